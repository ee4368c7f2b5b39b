/**
 * Noise normalization on real Python output: two runs of the same code print different
 * addresses, clocks, ids and temp folders; after normalizing they are equal, and real changes
 * still show.
 */
import { NORMALIZATION_RULES, normalizeText } from '../../../pipelines/checks/normalize';

// Printed by two runs of the same script (object(), datetime.now(), uuid4(), tempfile,
// perf_counter, timedelta) with python3.
const RUN_1 = [
  '<object object at 0x7f517e6c46f0>',
  'datetime.datetime(2026, 12, 2, 13, 5, 36, 574032)',
  '2026-12-02 13:05:36.574041',
  '2026-12-02T13:05:36.574128',
  "UUID('8fcdf1cb-15e7-4d68-8a1b-a19ddb43d512') 44ee709d-cdfa-480b-9ca1-dc034a6a811b",
  "'/tmp/tmp2esm7kvo'",
  '/tmp/tmptqli81m6.csv',
  '13:05:36',
  'took 0.0019s',
  'datetime.timedelta(seconds=1, microseconds=234000) took 0:00:01.234000',
  'CPU times: user 1.2 ms, sys: 0 ns, total: 1.2 ms',
  'Wall time: 1.23 s',
  '',
].join('\n');
const RUN_2 = [
  '<object object at 0x7f7ddaa6c6f0>',
  'datetime.datetime(2026, 12, 2, 13, 5, 36, 744994)',
  '2026-12-02 13:05:36.745005',
  '2026-12-02T13:05:36.745019',
  "UUID('69bf5d8b-32a2-4c13-a019-d702de9f7d82') b14819c4-8044-46f8-a718-2167bb6c019e",
  "'/tmp/tmpu762l48c'",
  '/tmp/tmpia30jnxv.csv',
  '13:05:37',
  'took 0.0043s',
  'datetime.timedelta(seconds=2, microseconds=468000) took 0:00:02.468000',
  'CPU times: user 980 µs, sys: 12 µs, total: 992 µs',
  'Wall time: 998 ms  ',
  '',
  '',
].join('\n');

// tqdm writes each update after a carriage return and ends the bar with a newline.
const TQDM = (rate1: string, rate2: string): string =>
  '\r  0%|          | 0/100 [00:00<?, ?it/s]' +
  `\r 50%|█████     | 50/100 [00:00<00:00, ${rate1}it/s]` +
  `\r100%|██████████| 100/100 [00:01<00:00, ${rate2}it/s]\n` +
  'done\n';

describe('normalizeText', () => {
  it('makes two runs of the same code compare equal', () => {
    expect(normalizeText(RUN_1)).toBe(normalizeText(RUN_2));
    expect(normalizeText(RUN_1)).toBe(
      [
        '<object object at 0x…>',
        '<datetime>',
        '<datetime>',
        '<datetime>',
        'UUID(<uuid>) <uuid>',
        "'<tmpdir>'",
        '<tmpdir>.csv',
        '<time>',
        'took <duration>',
        '<duration> took <duration>',
        'CPU times: user <duration>, sys: <duration>, total: <duration>',
        'Wall time: <duration>',
      ].join('\n'),
    );
  });

  it('still tells real changes apart', () => {
    expect(normalizeText(RUN_1.replace('<object object', '<Model object'))).not.toBe(
      normalizeText(RUN_2),
    );
    expect(normalizeText(RUN_1 + 'accuracy 0.91\n')).not.toBe(
      normalizeText(RUN_2 + 'accuracy 0.87\n'),
    );
    // The file name under a temp folder is content, not noise.
    expect(normalizeText('/tmp/tmp2esm7kvo/model.pt')).toBe('<tmpdir>/model.pt');
    expect(normalizeText('/tmp/tmp2esm7kvo/model.pt')).not.toBe(
      normalizeText('/tmp/tmpu762l48c/weights.pt'),
    );
    // Short hex numbers are values, not addresses.
    expect(normalizeText('mask 0xff')).toBe('mask 0xff');
    // "5 steps" is not a duration.
    expect(normalizeText('ran 5 steps in 2.5s')).toBe('ran 5 steps in <duration>');
  });

  it('keeps only the last state of a tqdm progress bar', () => {
    const a = normalizeText(TQDM('497.21', '495.83'));
    expect(a).toBe(normalizeText(TQDM('1012.40', '1003.77')));
    expect(a).toBe('100%|██████████| 100/100 [<elapsed>, <rate>]\ndone');
    expect(normalizeText(TQDM('497.21', '495.83').replace('100/100', '99/100'))).not.toBe(a);
  });

  it('removes ANSI colours, backspaces, trailing spaces and trailing blank lines', () => {
    expect(normalizeText('\x1b[31mError\x1b[0m: x  \r\nab\bc\n\n\n')).toBe('Error: x\nac');
  });

  it('normalizes macOS and Windows temp folders and tz-aware datetimes', () => {
    expect(normalizeText('/var/folders/3k/x8f2_abc0000gn/T/tmpq1w2e3r4/out.txt')).toBe(
      '<tmpdir>/out.txt',
    );
    expect(normalizeText('C:\\Users\\ci\\AppData\\Local\\Temp\\tmpq1w2e3r4\\out.txt')).toBe(
      '<tmpdir>\\out.txt',
    );
    expect(
      normalizeText(
        'datetime.datetime(2026, 12, 2, 13, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(seconds=3600)))',
      ),
    ).toBe('<datetime>');
    expect(normalizeText('at 2026-12-02T13:01:02+01:00 on 2026-12-03')).toBe(
      'at <datetime> on <date>',
    );
    expect(
      normalizeText('3.2 µs ± 45.6 ns per loop (mean ± std. dev. of 7 runs, 100,000 loops each)'),
    ).toBe('<duration> ± <duration> per loop (mean ± std. dev. of 7 runs, <n> loops each)');
  });

  it('is idempotent and lists its rules with names and descriptions', () => {
    const once = normalizeText(RUN_1 + TQDM('1', '2'));
    expect(normalizeText(once)).toBe(once);
    const names = NORMALIZATION_RULES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        'ansi',
        'carriage-return',
        'memory-address',
        'uuid',
        'temp-path',
        'duration',
      ]),
    );
    for (const rule of NORMALIZATION_RULES) {
      expect(rule.description.length).toBeGreaterThan(10);
    }
  });
});

describe('temporary names below $TMPDIR', () => {
  it("replaces Python's tempfile names in a folder of any depth, not other names", () => {
    const a = normalizeText('/srv/ci/tmp-run/tmpb_l2fdwu/model.pt');
    expect(a).toBe('/srv/ci/tmp-run/<tmpname>/model.pt');
    expect(normalizeText('/srv/ci/tmp-run/tmpv5ympc56/model.pt')).toBe(a);
    expect(normalizeText('/srv/ci/tmp-run/tmpv5ympc56/other.pt')).not.toBe(a);
    // Nine characters after tmp are not mkdtemp's.
    expect(normalizeText('/srv/templates/tmpfolders_x')).toBe('/srv/templates/tmpfolders_x');
  });
});
