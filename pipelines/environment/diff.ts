/**
 * What differs between the reproducibility records (`metadata.nbstage.environment`, see
 * `record.ts`) of two runs: the packages added, removed and upgraded, and every other recorded
 * field that changed, as dotted paths. Pure: the version store's diff, `nbstage diff`, the web
 * diff page and `nbstage reproduce` all print the same {@link environmentDiffLines}.
 */
import type { JSONObject, JSONValue } from '../notebook/model';
import { jsonEqual } from '../notebook/json-equal';
import { formatValue } from '../reports/format';
import { isJSONObject } from '../reports/run-metadata';

/** A package of one side or both (null: not installed on that side). */
export interface PackageChange {
  name: string;
  from: string | null;
  to: string | null;
}

/** A recorded field that differs, by its dotted path. */
export interface EnvironmentChange {
  field: string;
  from: JSONValue;
  to: JSONValue;
}

/** What differs between the environments of two runs, A and B. */
export interface EnvironmentDiff {
  /** Packages only B has (from null), only A has (to null), and whose version changed; each sorted by name. */
  packages: { added: PackageChange[]; removed: PackageChange[]; changed: PackageChange[] };
  /** Other recorded fields that differ, as dotted paths (`python.version`, `git.commit`, `kernelspec.argv`, `machine.cpu.model`, `frameworks.torch`, `gpus`), from A's value to B's. */
  changes: EnvironmentChange[];
  /** Whether either side recorded no environment (then nothing can be said about it). */
  recorded: { a: boolean; b: boolean };
}

/**
 * What the executor notes of every run, record or not (`outcome.ts`), and what a GPU worker adds
 * (`gpus`): a side holding nothing else recorded no environment.
 */
const NOTED_ALWAYS = new Set(['host', 'language', 'language_version', 'gpus']);

/** Fields of a recorded GPU that say which device of a model a run was lent, or what it used. */
const GPU_VOLATILE = new Set(['index', 'uuid', 'peakMemoryMiB']);

/** Whether `env` is a reproducibility record (not only what the executor notes of every run). */
function isRecord(env: JSONValue | undefined): env is JSONObject {
  return isJSONObject(env) && Object.keys(env).some((key) => !NOTED_ALWAYS.has(key));
}

function version(value: JSONValue | undefined): string | null {
  return value === undefined || value === null ? null : formatValue(value);
}

function diffPackages(a: JSONObject, b: JSONObject): EnvironmentDiff['packages'] {
  const out: EnvironmentDiff['packages'] = { added: [], removed: [], changed: [] };
  for (const name of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const change = { name, from: version(a[name]), to: version(b[name]) };
    if (change.from === null && change.to !== null) {
      out.added.push(change);
    } else if (change.to === null && change.from !== null) {
      out.removed.push(change);
    } else if (change.from !== change.to) {
      out.changed.push(change);
    }
  }
  return out;
}

/**
 * The part of a side's record that is compared field by field (see {@link environmentDiff}):
 * `packages` left out when both sides itemize them, the volatile fields dropped, the
 * frameworks their packages already carry left out.
 */
function comparable(env: JSONObject, other: JSONObject, itemized: boolean): JSONObject {
  const view: JSONObject = { ...env };
  const packages = [env.packages, other.packages].filter(isJSONObject);
  if (itemized) {
    delete view.packages;
  }
  if (isJSONObject(env.git)) {
    const git = { ...env.git };
    delete git.untracked;
    view.git = git;
  }
  if (Array.isArray(env.gpus)) {
    view.gpus = env.gpus.map((gpu) =>
      isJSONObject(gpu)
        ? Object.fromEntries(Object.entries(gpu).filter(([key]) => !GPU_VOLATILE.has(key)))
        : gpu,
    );
  }
  const frameworks = env.frameworks ?? (isJSONObject(other.frameworks) ? {} : undefined);
  if (isJSONObject(frameworks)) {
    view.frameworks = Object.fromEntries(
      Object.entries(frameworks).filter(([name]) => !packages.some((p) => name in p)),
    );
  }
  return view;
}

/** Whether `language_version` only repeats `python.version` (the kernel's and the report's). */
function repeatsPython(env: JSONObject): boolean {
  return isJSONObject(env.python) && jsonEqual(env.python.version, env.language_version);
}

function walk(a: JSONObject, b: JSONObject, prefix: string, out: EnvironmentChange[]): void {
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const from = a[key] ?? null;
    const to = b[key] ?? null;
    const field = `${prefix}${key}`;
    if (isJSONObject(from) && isJSONObject(to)) {
      walk(from, to, `${field}.`, out);
    } else if (!jsonEqual(from, to)) {
      out.push({ field, from, to });
    }
  }
}

/**
 * What differs from A's environment to B's.
 *
 * - A side recorded nothing when it has no environment, or only what the executor notes of every
 *   run (`host`, `language`, `language_version`) and a worker's `gpus`: the record was off, or an
 *   older nbstage wrote it. Then the diff is empty and `recorded` says which side it was.
 * - `packages` are itemized when both sides have them; when only one side does (another kernel,
 *   an older record) they are one change of the field `packages`.
 * - Every other field is compared leaf by leaf, objects by their dotted paths, arrays and scalars
 *   whole (`kernelspec.argv`, `gpus`). A field one side lacks is null there, so a missing
 *   `conda` and `conda: null` are the same. `host`, the interpreter's `python.executable` and
 *   `prefix`, `workspace` (the digest of the inputs) and the branch all count.
 * - Not differences: `git.untracked` (runs write files into their own workspace, so the count
 *   changes from run to run), a GPU's `index`, `uuid` and `peakMemoryMiB` (which device of the
 *   same model the run was lent, and what it used), `frameworks.<name>` when a side's packages
 *   carry that name (it would be listed twice), and `language_version` when on both sides it
 *   repeats `python.version`.
 */
export function environmentDiff(
  a: JSONValue | undefined,
  b: JSONValue | undefined,
): EnvironmentDiff {
  const diff: EnvironmentDiff = {
    packages: { added: [], removed: [], changed: [] },
    changes: [],
    recorded: { a: isRecord(a), b: isRecord(b) },
  };
  if (!isRecord(a) || !isRecord(b)) {
    return diff;
  }
  const itemized = isJSONObject(a.packages) && isJSONObject(b.packages);
  if (isJSONObject(a.packages) && isJSONObject(b.packages)) {
    diff.packages = diffPackages(a.packages, b.packages);
  }
  const viewA = comparable(a, b, itemized);
  const viewB = comparable(b, a, itemized);
  if (repeatsPython(a) && repeatsPython(b)) {
    delete viewA.language_version;
    delete viewB.language_version;
  }
  walk(viewA, viewB, '', diff.changes);
  return diff;
}

/** Whether anything differs (false too when a side recorded nothing). */
export function environmentDiffers(diff: EnvironmentDiff): boolean {
  const { added, removed, changed } = diff.packages;
  return added.length + removed.length + changed.length + diff.changes.length > 0;
}

/** The longest value {@link environmentValueText} shows before it cuts it with `…`. */
const VALUE_WIDTH = 120;

/** A recorded value as one short line: text as is, anything else as JSON; null is `(none)`. */
export function environmentValueText(value: JSONValue): string {
  if (value === null) {
    return '(none)';
  }
  const text = formatValue(value);
  return Array.from(text).length > VALUE_WIDTH
    ? `${Array.from(text)
        .slice(0, VALUE_WIDTH - 1)
        .join('')}…`
    : text;
}

/** How {@link environmentDiffLines} names the two sides (default `A` and `B`). */
export interface EnvironmentSideNames {
  a: string;
  b: string;
}

/**
 * The diff as lines for people: `environment: not recorded in B` when a side recorded nothing;
 * else `packages: 2 added, 1 removed, 1 changed`, then `+ pandas 2.2.0`, `- six 1.16.0`,
 * `~ numpy 1.26.4 → 2.0.0`, then `python.version: 3.11.7 → 3.12.1` for each other field. No
 * lines when nothing differs.
 */
export function environmentDiffLines(
  diff: EnvironmentDiff,
  names: EnvironmentSideNames = { a: 'A', b: 'B' },
): string[] {
  const missing = new Set([
    ...(diff.recorded.a ? [] : [names.a]),
    ...(diff.recorded.b ? [] : [names.b]),
  ]);
  if (missing.size > 0) {
    return [`environment: not recorded in ${[...missing].join(' and ')}`];
  }
  const { added, removed, changed } = diff.packages;
  const lines: string[] = [];
  const counts = [
    [added.length, 'added'],
    [removed.length, 'removed'],
    [changed.length, 'changed'],
  ] as const;
  const summary = counts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
  if (summary.length > 0) {
    lines.push(`packages: ${summary.join(', ')}`);
  }
  lines.push(...added.map((p) => `+ ${p.name} ${p.to ?? ''}`));
  lines.push(...removed.map((p) => `- ${p.name} ${p.from ?? ''}`));
  lines.push(...changed.map((p) => `~ ${p.name} ${p.from ?? '(none)'} → ${p.to ?? '(none)'}`));
  for (const c of diff.changes) {
    lines.push(`${c.field}: ${environmentValueText(c.from)} → ${environmentValueText(c.to)}`);
  }
  return lines;
}
