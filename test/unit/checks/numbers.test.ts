/**
 * Numeric comparison of texts: numbers within tolerance are equal, the first one outside is
 * named with its line and both values; the text around numbers must match exactly.
 */
import { compareNumericText, numbersClose } from '../../../pipelines/checks/numbers';
import { stableJson } from '../../../pipelines/checks/outputs';

describe('compareNumericText', () => {
  it('accepts numbers within rtol and names the first one outside', () => {
    const baseline = 'epoch 1 loss 0.6931\nepoch 2 loss 0.4512 acc 0.91\n';
    expect(
      compareNumericText(baseline, 'epoch 1 loss 0.69310001\nepoch 2 loss 0.4512 acc 0.91\n', {
        rtol: 1e-6,
      }),
    ).toBeNull();
    expect(
      compareNumericText(baseline, 'epoch 1 loss 0.6931\nepoch 2 loss 0.4512 acc 0.87\n', {
        rtol: 1e-6,
      }),
    ).toEqual({
      kind: 'number',
      line: 2,
      column: 25,
      baseline: '0.91',
      actual: '0.87',
    });
    // 0.87 is within 5% of 0.91.
    expect(
      compareNumericText(baseline, baseline.replace('0.91', '0.87'), { rtol: 0.05 }),
    ).toBeNull();
  });

  it('compares exponents, signs, nan and inf', () => {
    expect(
      compareNumericText('x=1.5e-3 y=-2 z=nan w=-inf', 'x=0.0015 y=-2.0 z=NaN w=-inf', { rtol: 0 }),
    ).toBeNull();
    expect(compareNumericText('y=-2', 'y=2', { rtol: 0.5 })).toMatchObject({
      baseline: '-2',
      actual: '2',
    });
    expect(compareNumericText('z=nan', 'z=0.0', { rtol: 1 })).toMatchObject({ kind: 'number' });
    expect(compareNumericText('w=inf', 'w=-inf', { rtol: 1 })).toMatchObject({ kind: 'number' });
  });

  it('needs atol to call 0 and 1e-300 equal', () => {
    expect(compareNumericText('0', '1e-300', { rtol: 1e-6 })).toMatchObject({
      baseline: '0',
      actual: '1e-300',
    });
    expect(compareNumericText('0', '1e-300', { rtol: 1e-6, atol: 1e-12 })).toBeNull();
    expect(numbersClose(100, 101, { rtol: 0.01 })).toBe(true);
    expect(numbersClose(100, 102, { rtol: 0.01 })).toBe(false);
  });

  it('reports a change of the text between numbers', () => {
    expect(
      compareNumericText('loss 0.5\nstatus: ok\n', 'loss 0.5\nstatus: failed\n', { rtol: 1 }),
    ).toEqual({
      kind: 'text',
      line: 2,
      column: 9,
      baseline: 'ok',
      actual: 'failed',
    });
    // A number where the other side has none.
    expect(compareNumericText('items:', 'items: 3', { rtol: 1 })).toMatchObject({
      kind: 'text',
      actual: ' 3',
    });
    // Digits inside names are text, so a loose rtol does not make layer1 equal layer2.
    expect(compareNumericText('layer1', 'layer2', { rtol: 0.9 })).toMatchObject({ kind: 'text' });
  });

  it('works on serialized JSON', () => {
    const b = stableJson({ metrics: { f1: 0.8123, loss: [0.5, 0.25] }, name: 'run' });
    const a = stableJson({ name: 'run', metrics: { loss: [0.5, 0.2500001], f1: 0.8123 } });
    expect(compareNumericText(b, a, { rtol: 1e-6 })).toBeNull();
    expect(compareNumericText(b, a, { rtol: 1e-9 })).toMatchObject({
      kind: 'number',
      baseline: '0.25',
      actual: '0.2500001',
    });
    expect(
      compareNumericText(
        b,
        stableJson({ name: 'run2', metrics: { f1: 0.8123, loss: [0.5, 0.25] } }),
        { rtol: 1 },
      ),
    ).toMatchObject({
      kind: 'text',
    });
  });

  it('works on an HTML table of a DataFrame', () => {
    const table = (x: string, y: string): string =>
      '<table border="1" class="dataframe">\n  <thead>\n    <tr><th></th><th>a</th><th>b</th></tr>\n  </thead>\n' +
      `  <tbody>\n    <tr><th>0</th><td>${x}</td><td>${y}</td></tr>\n  </tbody>\n</table>`;
    expect(
      compareNumericText(table('0.123456', '7'), table('0.123457', '7'), { rtol: 1e-5 }),
    ).toBeNull();
    expect(
      compareNumericText(table('0.123456', '7'), table('0.123456', '8'), { rtol: 1e-5 }),
    ).toMatchObject({
      kind: 'number',
      line: 6,
      baseline: '7',
      actual: '8',
    });
  });
});
