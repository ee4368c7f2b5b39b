/**
 * Noise normalization of output text: what changes from one run of a notebook to the next
 * without the notebook's results changing (colours, progress bars, addresses, clocks, random ids,
 * temporary folders) is replaced with fixed placeholders, so that two runs compare equal while
 * the structure around the noise still has to match.
 */
import { applyCarriageReturns, stripAnsi } from '../reports/ansi';

/** One normalization: a name for docs and messages, what it replaces, and how. */
export interface NormalizationRule {
  /** Short stable name, e.g. `memory-address`. */
  readonly name: string;
  /** What the rule replaces and with what, in words (for the docs). */
  readonly description: string;
  /** Applies the rule to a whole text. */
  readonly apply: (text: string) => string;
}

/** A rule made of one regular expression and its replacement. */
function regexRule(
  name: string,
  description: string,
  pattern: RegExp,
  replacement: string,
): NormalizationRule {
  return { name, description, apply: (text) => text.replace(pattern, replacement) };
}

// A `tzinfo=` argument may itself be a call with one level of nested parentheses:
// `tzinfo=datetime.timezone(datetime.timedelta(seconds=3600))`.
const TZINFO = String.raw`tzinfo=[\w.<>]+(?:\((?:[^()]|\([^()]*\))*\))?`;
const DATETIME_REPR = new RegExp(
  String.raw`\bdatetime\.(?:datetime|date|time)\(\d+(?:, \d+)*(?:, ${TZINFO})?\)`,
  'g',
);
const TIMEDELTA_REPR = /\bdatetime\.timedelta\((?:\w+=-?\d+(?:, )?)*\)/g;
const ISO_DATETIME =
  /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2}\b)?/g;
const ISO_DATE = /\b\d{4}-\d{2}-\d{2}\b/g;
// `took 0:00:01.234`, `elapsed: 00:01:02`: a clock reading that is a duration by its context.
const CLOCK_DURATION =
  /\b(took|elapsed|duration|runtime|time|in)(:?\s+)\d+:\d{2}:\d{2}(?:\.\d+)?/gi;
const TIME_OF_DAY = /\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g;
// A number followed by a time unit; the number must not end a word (`abc1s`) and the unit must
// end one (`5 steps` is not a duration).
const DURATION =
  /(?<![\w.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\s?(?:ns|µs|μs|us|ms|s|secs?|seconds?|mins?|minutes?|hrs?|hours?)(?![\p{L}\p{N}_])/gu;
// tqdm's `[00:01<00:02, 95.23it/s]` and any `12.3 it/s`, `4.5 s/it`, `1.2MB/s` rate.
const TQDM_TIMING = /\[\d+:\d{2}(?::\d{2})?<(?:\d+:\d{2}(?::\d{2})?|\?)(?=[,\]])/g;
const RATE = /(?<![\w.])(?:\d+(?:\.\d+)?|\?)\s?(?:[kMGT]?(?:it|B)\/s|s\/(?:it|[kMGT]?B))\b/g;
const TIMEIT_LOOPS = /\b\d[\d,]* loops? each\b/g;
const UUID_HEX = String.raw`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`;
const UUID_REPR = new RegExp(String.raw`UUID\('${UUID_HEX}'\)`, 'g');
const UUID = new RegExp(String.raw`\b${UUID_HEX}\b`, 'g');
// Python prints addresses with 8 to 16 hex digits (`0x7f3a2c1b4d90`, `0x000001F2A3B4C5D6`);
// shorter hex numbers such as `0xff` are real content and stay.
const ADDRESS = /\b0x[0-9a-fA-F]{8,16}\b/g;
// The folder tempfile made (the first part after the temp root) becomes one placeholder, so
// that `/tmp/tmpab12cd/out.csv` still shows `out.csv`. macOS's per-user temp root and
// Windows' `AppData\Local\Temp` map to the same placeholder as `/tmp`. A file's extension
// stays (mkstemp's `/tmp/tmpab12cd.csv` becomes `<tmpdir>.csv`).
const TEMP_SEGMENT = String.raw`[^\s/\\'"<>:,;()\[\]{}.]+`;
const TEMP_PATH = new RegExp(
  String.raw`(?:(?:/private)?/var/folders/[^\s/]+/[^\s/]+/[A-Z]|(?<![\w.])/tmp|[A-Za-z]:\\(?:Users\\[^\\\s]+\\)?AppData\\Local\\Temp)[/\\]${TEMP_SEGMENT}`,
  'g',
);

/** A name from Python's tempfile (`tmp` + 8 of `[a-z0-9_]`), as a part of a path. */
const TEMPFILE_NAME = /(?<=[/\\])tmp[a-z0-9_]{8}(?![A-Za-z0-9_-])/g;

/** The normalizations in the order they are applied (an order that keeps them from clashing). */
export const NORMALIZATION_RULES: readonly NormalizationRule[] = [
  {
    name: 'ansi',
    description: 'ANSI escape sequences (colours, cursor moves, titles) are removed',
    apply: stripAnsi,
  },
  {
    name: 'carriage-return',
    description:
      'on each line only the text after the last carriage return is kept, as a terminal ' +
      'shows it (tqdm-style progress bars); a backspace erases the character before it; ' +
      'CRLF line ends become LF',
    apply: applyCarriageReturns,
  },
  regexRule(
    'temp-path',
    'temporary folders (/tmp/<name>, /var/folders/.../T/<name>, AppData\\Local\\Temp\\<name>) ' +
      'become <tmpdir>; what follows the folder stays',
    TEMP_PATH,
    '<tmpdir>',
  ),
  regexRule(
    'tempfile-name',
    "names Python's tempfile makes (tmp and 8 of [a-z0-9_], as in mkdtemp()) in a folder of " +
      'any depth become <tmpname>: a temporary folder under $TMPDIR is not always /tmp itself',
    TEMPFILE_NAME,
    '<tmpname>',
  ),
  regexRule('uuid-repr', "UUID('...') becomes UUID(<uuid>)", UUID_REPR, 'UUID(<uuid>)'),
  regexRule('uuid', 'UUIDs (8-4-4-4-12 hex digits) become <uuid>', UUID, '<uuid>'),
  regexRule(
    'memory-address',
    'memory addresses (0x and 8 to 16 hex digits) become 0x…',
    ADDRESS,
    '0x…',
  ),
  regexRule(
    'datetime-repr',
    'datetime.datetime(...), datetime.date(...) and datetime.time(...) reprs become <datetime>',
    DATETIME_REPR,
    '<datetime>',
  ),
  regexRule(
    'timedelta-repr',
    'datetime.timedelta(...) reprs become <duration>',
    TIMEDELTA_REPR,
    '<duration>',
  ),
  regexRule(
    'iso-datetime',
    'ISO dates with a time (2026-12-02 13:01:02.123456, 2026-12-02T13:01:02Z) become <datetime>',
    ISO_DATETIME,
    '<datetime>',
  ),
  regexRule('iso-date', 'ISO dates (2026-12-02) become <date>', ISO_DATE, '<date>'),
  regexRule(
    'progress-timing',
    "tqdm's elapsed<remaining ([00:01<00:02, 95.2it/s]) becomes [<elapsed>",
    TQDM_TIMING,
    '[<elapsed>',
  ),
  regexRule(
    'clock-duration',
    'clock readings that follow took/elapsed/duration/runtime/time/in (took 0:00:01.234) ' +
      'become <duration>',
    CLOCK_DURATION,
    '$1$2<duration>',
  ),
  regexRule(
    'time-of-day',
    'times of day (13:01:02, 13:01:02.5) become <time>',
    TIME_OF_DAY,
    '<time>',
  ),
  regexRule('rate', 'rates (95.2it/s, 1.5 s/it, 3.4MB/s) become <rate>', RATE, '<rate>'),
  regexRule(
    'duration',
    'a number with a time unit (1.23s, 12 ms, 0.5 sec, 3.2 µs, 2 minutes) becomes <duration>',
    DURATION,
    '<duration>',
  ),
  regexRule(
    'timeit-loops',
    "%timeit's loop count (1,000,000 loops each) becomes <n> loops each",
    TIMEIT_LOOPS,
    '<n> loops each',
  ),
  {
    name: 'trailing-whitespace',
    description: 'whitespace at the end of each line and blank lines at the end are removed',
    apply: (text) => text.replace(/[ \t\f\v]+$/gm, '').replace(/\s+$/, ''),
  },
];

/**
 * The text with run-to-run noise replaced by placeholders: every rule of
 * {@link NORMALIZATION_RULES} (or of `rules`, to apply only some) in order. Normalizing twice
 * gives the same text as normalizing once.
 */
export function normalizeText(
  text: string,
  rules: readonly NormalizationRule[] = NORMALIZATION_RULES,
): string {
  return rules.reduce((acc, rule) => rule.apply(acc), text);
}
