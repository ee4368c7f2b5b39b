/**
 * Metric gates: every form parsed and evaluated both ways, malformed gates refused with a
 * ValidationError naming the gate, and gates against a missing baseline passing with a note.
 */
import { evaluateGates, parseGate } from '../../../pipelines/checks/gates';
import { ValidationError } from '../../../pipelines/errors/classes';

const metrics = { accuracy: 0.93, 'val.loss': 0.21, f1_macro: 0.8, steps: 1000, label: 'best' };
const baseline = { accuracy: 0.92, 'val.loss': 0.2, f1_macro: 0.85, steps: 1000 };

/** Whether one gate passes against the metrics above. */
function passes(text: string): boolean {
  const [r] = evaluateGates([parseGate(text, 'gates')], metrics, baseline);
  return r.passed;
}

describe('parseGate', () => {
  it('parses each form', () => {
    expect(parseGate(' accuracy >= 0.9 ', 'gates')).toEqual({
      text: 'accuracy >= 0.9',
      metric: 'accuracy',
      op: '>=',
      target: { kind: 'number', value: 0.9 },
    });
    expect(parseGate('val.loss<baseline', 'gates').target).toEqual({ kind: 'baseline' });
    expect(parseGate('val.loss <= baseline * 1.05', 'gates').target).toEqual({
      kind: 'baseline',
      adjust: { op: '*', value: 1.05 },
    });
    expect(parseGate('f1_macro>baseline-1e-2', 'gates')).toMatchObject({
      metric: 'f1_macro',
      op: '>',
      target: { kind: 'baseline', adjust: { op: '-', value: 0.01 } },
    });
    expect(parseGate('loss != -2.5E+3', 'gates').target).toEqual({ kind: 'number', value: -2500 });
  });

  it('refuses malformed gates, naming the gate and what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['', /is empty/],
      ['accuracy 0.9', /has no comparison/],
      ['accuracy => 0.9', /did you mean ">="/],
      ['accuracy = 0.9', /did you mean "=="/],
      ['>= 0.9', /names no metric/],
      ['9lives >= 1', /"9lives" is not a metric name/],
      ['accuracy >=', /has nothing after >=/],
      ['accuracy >= high', /must be a number, not "high"/],
      ['accuracy >= baseline 2', /unexpected "2" after "baseline"/],
      ['accuracy >= baseline * x', /must be a number, not "x"/],
      ['accuracy >= baseline / 0', /divides the baseline by 0/],
      ['0.8 < accuracy < 0.9', /is not a metric name|more than one comparison/],
    ];
    for (const [text, why] of cases) {
      let caught: unknown;
      try {
        parseGate(text, '--gate');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      const e = caught as ValidationError;
      expect(e.field).toBe('--gate');
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain(`gate ${JSON.stringify(text.trim())}`);
      expect(e.message).toMatch(why);
    }
  });
});

describe('evaluateGates', () => {
  it('passes and fails each form', () => {
    expect(passes('accuracy >= 0.9')).toBe(true);
    expect(passes('accuracy >= 0.95')).toBe(false);
    expect(passes('accuracy > 0.93')).toBe(false);
    expect(passes('val.loss < 0.25')).toBe(true);
    expect(passes('val.loss <= 0.2')).toBe(false);
    expect(passes('steps == 1000')).toBe(true);
    expect(passes('steps != 1000')).toBe(false);
    expect(passes('accuracy >= baseline')).toBe(true);
    expect(passes('f1_macro >= baseline')).toBe(false);
    expect(passes('f1_macro >= baseline - 0.1')).toBe(true);
    expect(passes('f1_macro >= baseline - 0.01')).toBe(false);
    expect(passes('accuracy >= baseline + 0.02')).toBe(false);
    expect(passes('val.loss <= baseline * 1.1')).toBe(true);
    expect(passes('val.loss <= baseline * 1.01')).toBe(false);
    expect(passes('val.loss <= baseline / 0.9')).toBe(true);
    expect(passes('val.loss <= baseline / 1.01')).toBe(false);
  });

  it('says what was compared', () => {
    const gates = ['accuracy >= 0.9', 'val.loss <= baseline * 1.01'].map((g) =>
      parseGate(g, 'gates'),
    );
    expect(evaluateGates(gates, metrics, baseline)).toEqual([
      {
        gate: 'accuracy >= 0.9',
        passed: true,
        value: 0.93,
        threshold: 0.9,
        message: 'accuracy = 0.93 >= 0.9',
      },
      {
        gate: 'val.loss <= baseline * 1.01',
        passed: false,
        value: 0.21,
        baseline: 0.2,
        threshold: 0.202,
        message: 'val.loss = 0.21, needs <= 0.202 (baseline 0.2 * 1.01)',
      },
    ]);
  });

  it('fails a metric the run did not record or that is not a number', () => {
    const [missing, text] = evaluateGates(
      [parseGate('recall >= 0.5', 'gates'), parseGate('label > 1', 'gates')],
      metrics,
      baseline,
    );
    expect(missing).toMatchObject({
      passed: false,
      value: null,
      message: 'recall >= 0.5: this run recorded no metric recall',
    });
    expect(text).toMatchObject({
      passed: false,
      value: null,
      message: 'label > 1: label is "best", not a number',
    });
  });

  it('passes a baseline gate with a note when there is no baseline value', () => {
    const gate = parseGate('accuracy >= baseline - 0.01', 'gates');
    const [noBaseline] = evaluateGates([gate], metrics, null);
    expect(noBaseline).toMatchObject({
      passed: true,
      value: 0.93,
      baseline: null,
      note: 'there is no baseline, so the gate was not checked',
    });
    expect(noBaseline.threshold).toBeUndefined();
    const [absent] = evaluateGates([gate], metrics, { loss: 1 });
    expect(absent).toMatchObject({
      passed: true,
      note: 'the baseline recorded no accuracy, so the gate was not checked',
    });
    // A number gate does not need a baseline.
    expect(evaluateGates([parseGate('accuracy >= 0.99', 'gates')], metrics, null)[0].passed).toBe(
      false,
    );
  });
});
