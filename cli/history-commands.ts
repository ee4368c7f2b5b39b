/**
 * `nbstage history`, `nbstage show` and `nbstage diff`: read the version store of an nbstage
 * home (`--home`, else `$NBSTAGE_HOME`, else `./.nbstage`) and print a job's builds, one stored
 * version, or what changed between two builds; `--json` prints one JSON object instead. Stored
 * text reaches the terminal with its control characters escaped (see `printable.ts`). An
 * unknown home, job or build is a NotFoundError (exit 2, one line on stderr).
 */
import path from 'node:path';
import { environmentDiffers, environmentDiffLines } from '../pipelines/environment/diff';
import type { JSONObject, JSONValue } from '../pipelines/notebook/model';
import { serializeNotebook, writeNotebookFile } from '../pipelines/notebook/io';
import { formatBytes, formatDuration, formatValue, truncate } from '../pipelines/reports/format';
import { isJSONObject } from '../pipelines/reports/run-metadata';
import { openVersionStore } from '../server/store/git-version-store';
import type { VersionStoreOptions } from '../server/store/git-version-store';
import type { DiffLine } from '../server/store/line-diff';
import { diffText } from '../server/store/line-diff';
import type { BuildVersion, NotebookDiff, ShownVersion, VersionStore } from '../server/store/types';
import { printable, printableLine } from './printable';

/** The home used when neither `--home` nor `NBSTAGE_HOME` names one. */
export const DEFAULT_HOME = '.nbstage';

/** Flags shared by the three commands. */
export interface HistoryFlags {
  /** The nbstage home holding `history.git`. */
  home?: string;
  /** One JSON object on stdout. */
  json?: boolean;
}

/** Flags of `nbstage show`. */
export interface ShowFlags extends HistoryFlags {
  /** Write the stored notebook to this file (`-` for stdout). */
  output?: string;
}

/** Where the commands print and how they open the store (tests inject their own). */
export interface HistoryIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Opens a store (default {@link openVersionStore}). */
  open?: (home: string, options: VersionStoreOptions) => Promise<VersionStore>;
}

function defaultIO(): HistoryIO {
  return { stdout: process.stdout, env: process.env };
}

/** The home a command reads: `--home`, else `NBSTAGE_HOME`, else `./.nbstage`. */
export function resolveHome(flags: HistoryFlags, env: NodeJS.ProcessEnv): string {
  const fromEnv = env.NBSTAGE_HOME;
  return path.resolve(
    flags.home ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_HOME),
  );
}

/** Colours for people at a terminal; never in a pipe, a file or with NO_COLOR. */
function colorWanted(io: HistoryIO): boolean {
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') {
    return false;
  }
  if (io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== '' && io.env.FORCE_COLOR !== '0') {
    return true;
  }
  return io.stdout.isTTY === true;
}

/** Opens the store read-only (no repository is created), runs `fn`, closes it. */
async function withStore<T>(
  flags: HistoryFlags,
  io: HistoryIO,
  fn: (store: VersionStore) => Promise<T>,
): Promise<T> {
  const open = io.open ?? openVersionStore;
  const store = await open(resolveHome(flags, io.env), { create: false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** An ISO time as `2026-01-01 10:00:00Z`. */
function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** A metric value in a table cell: numbers with at most 6 significant digits. */
function cellValue(value: JSONValue | undefined): string {
  if (value === undefined) {
    return '';
  }
  if (typeof value === 'number' && !Number.isInteger(value)) {
    return String(Number(value.toPrecision(6)));
  }
  return truncate(formatValue(value), 16);
}

/** The metrics shown as columns: the ones most builds have (at most `max`), by name. */
export function keyMetrics(builds: BuildVersion[], max = 4): string[] {
  const counts = new Map<string, number>();
  for (const b of builds) {
    for (const name of Object.keys(b.metrics)) {
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
    .slice(0, max)
    .map(([name]) => name);
}

/** Lays out rows as aligned columns, two spaces apart; each cell {@link printable}. */
function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map(printable));
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => Array.from(r[c]).length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) =>
          c === r.length - 1 ? cell : cell + ' '.repeat(widths[c] - Array.from(cell).length),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The `nbstage history` table: build, status, start time, duration, stages, key metrics. */
export function formatBuildTable(builds: BuildVersion[]): string {
  const metrics = keyMetrics(builds);
  const rows = [
    ['BUILD', 'STATUS', 'STARTED', 'DURATION', 'STAGES', ...metrics.map((m) => m.toUpperCase())],
    ...builds.map((b) => [
      b.build,
      b.status,
      shortTime(b.time),
      b.duration === null ? '' : formatDuration(b.duration * 1000),
      b.stages.join(','),
      ...metrics.map((m) => cellValue(b.metrics[m])),
    ]),
  ];
  return `${table(rows)}\n`;
}

/**
 * `nbstage history <job>`: the job's builds, newest first.
 *
 * @returns the exit code (0)
 * @throws NotFoundError for an unknown home or job
 */
export async function historyCommand(
  job: string,
  flags: HistoryFlags,
  io: HistoryIO = defaultIO(),
): Promise<number> {
  const builds = await withStore(flags, io, (store) => store.listBuilds(job));
  io.stdout.write(
    flags.json === true
      ? `${JSON.stringify({ job, builds }, null, 2)}\n`
      : formatBuildTable(builds),
  );
  return 0;
}

function keyValues(values: JSONObject): string {
  const entries = Object.entries(values);
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${formatValue(v)}`).join(', ');
}

/** The summary `nbstage show` prints for a stored version. */
export function formatShow(job: string, build: string, version: ShownVersion): string {
  const run = version.run;
  const str = (key: string): string => {
    const value = run[key];
    return typeof value === 'string' ? value : '-';
  };
  const lines: [string, string][] = [
    ['job', job],
    ['build', build],
    ['commit', version.commit],
    ['tag', version.tag],
    ['status', str('status')],
    ['stage', str('stage')],
    ['run id', str('run_id')],
    ['started', typeof run.start === 'string' ? shortTime(run.start) : '-'],
    ['duration', typeof run.duration === 'number' ? formatDuration(run.duration * 1000) : '-'],
    ['kernel', str('kernel')],
    ['cells', String(version.notebook.cells.length)],
    ['metrics', isJSONObject(run.metrics) ? keyValues(run.metrics) : '-'],
    ['parameters', isJSONObject(run.parameters) ? keyValues(run.parameters) : '-'],
  ];
  const exc = run.exception;
  if (isJSONObject(exc)) {
    const cell = typeof exc.cell_index === 'number' ? ` (cell ${exc.cell_index})` : '';
    lines.push([
      'exception',
      `${formatValue(exc.ename ?? null)}: ${formatValue(exc.evalue ?? null)}${cell}`,
    ]);
  }
  if (Array.isArray(run.artifacts)) {
    for (const a of run.artifacts) {
      if (isJSONObject(a) && typeof a.name === 'string' && typeof a.sha256 === 'string') {
        const size = typeof a.size === 'number' ? formatBytes(a.size) : '?';
        lines.push(['artifact', `${a.name} (${size}, sha256 ${a.sha256.slice(0, 12)})`]);
      }
    }
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${printable(v)}`).join('\n') + '\n';
}

/**
 * `nbstage show <job> <build>`: a summary of the build's newest version, or its notebook
 * written to `-o FILE` (`-o -`: to stdout).
 *
 * @returns the exit code (0)
 * @throws NotFoundError for an unknown home, job or build
 */
export async function showCommand(
  job: string,
  build: string,
  flags: ShowFlags,
  io: HistoryIO = defaultIO(),
): Promise<number> {
  const version = await withStore(flags, io, (store) => store.show(job, build));
  if (flags.output === '-') {
    io.stdout.write(serializeNotebook(version.notebook));
    return 0;
  }
  let written: string | undefined;
  if (flags.output !== undefined) {
    written = path.resolve(flags.output);
    await writeNotebookFile(written, version.notebook);
  }
  if (flags.json === true) {
    const out = {
      job,
      build,
      commit: version.commit,
      tag: version.tag,
      run: version.run,
      ...(written === undefined ? {} : { output: written }),
    };
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    io.stdout.write(formatShow(job, build, version));
    if (written !== undefined) {
      io.stdout.write(`wrote ${written}\n`);
    }
  }
  return 0;
}

/** ANSI styles, or none. */
interface Paint {
  add(text: string): string;
  del(text: string): string;
  head(text: string): string;
}

function paint(color: boolean): Paint {
  const wrap = (code: string) => (text: string) =>
    color ? `\u001b[${code}m${text}\u001b[0m` : text;
  return { add: wrap('32'), del: wrap('31'), head: wrap('1') };
}

/** Diff lines with `context` unchanged lines around each change; longer runs become `…`. */
function diffBody(lines: DiffLine[], p: Paint, indent: string, context = 3): string[] {
  const changed = lines.map((l) => l.op !== ' ');
  const keep = lines.map((_, i) => {
    for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) {
      if (changed[k]) {
        return true;
      }
    }
    return false;
  });
  const out: string[] = [];
  let skipped = false;
  lines.forEach((l, i) => {
    if (!keep[i]) {
      if (!skipped) {
        out.push(`${indent}  …`);
      }
      skipped = true;
      return;
    }
    skipped = false;
    const text = `${indent}${l.op} ${printableLine(l.line)}`;
    out.push(l.op === '+' ? p.add(text) : l.op === '-' ? p.del(text) : text);
  });
  return out;
}

function showValue(value: JSONValue | null): string {
  return value === null ? '(none)' : printable(formatValue(value));
}

/**
 * The environment part of `nbstage diff`: `environment:` and the differences under it, one line
 * saying which build recorded none, or nothing when the environments are the same.
 */
function environmentSection(diff: NotebookDiff, p: Paint): string[] {
  const env = diff.environment;
  const lines = environmentDiffLines(env, {
    a: `build ${diff.a.build}`,
    b: `build ${diff.b.build}`,
  }).map(printable);
  if (!env.recorded.a || !env.recorded.b || lines.length === 0) {
    return lines;
  }
  return [
    'environment:',
    ...lines.map((l) =>
      l.startsWith('+ ') ? p.add(`  ${l}`) : l.startsWith('- ') ? p.del(`  ${l}`) : `  ${l}`,
    ),
  ];
}

/** The human-readable `nbstage diff`. */
export function formatDiff(diff: NotebookDiff, color: boolean): string {
  const p = paint(color);
  const out: string[] = [
    p.head(
      printable(
        `${diff.job} #${diff.a.build} (${diff.a.commit.slice(0, 10)}) -> #${diff.b.build} (${diff.b.commit.slice(0, 10)})`,
      ),
    ),
  ];
  const status = printable(`status: ${diff.status.a ?? '?'} -> ${diff.status.b ?? '?'}`);
  out.push(diff.status.changed ? status : printable(`status: ${diff.status.b ?? '?'} (unchanged)`));
  for (const [title, changes] of [
    ['metrics', diff.metrics],
    ['parameters', diff.parameters],
  ] as const) {
    if (changes.length > 0) {
      out.push(`${title}:`);
      for (const c of changes) {
        out.push(`  ${printable(c.name)}: ${p.del(showValue(c.a))} -> ${p.add(showValue(c.b))}`);
      }
    }
  }
  out.push(...environmentSection(diff, p));
  for (const cell of diff.cells) {
    const where = cell.indexB ?? cell.indexA;
    const id = cell.id === null ? '' : ` ${cell.id}`;
    out.push(p.head(printable(`cell ${where} [${cell.cellType}${id}] ${cell.change}`)));
    if (cell.source !== null) {
      out.push('  source:');
      out.push(...diffBody(cell.source, p, '    '));
    }
    for (const o of cell.outputs) {
      if (o.kind === 'image') {
        out.push(
          printable(`  output ${o.index} (${o.outputType}): ${o.mime ?? 'image'} ${o.change}`),
        );
      } else {
        out.push(printable(`  output ${o.index} (${o.outputType}) ${o.change}:`));
        out.push(...diffBody(diffText(o.a ?? '', o.b ?? ''), p, '    '));
      }
    }
  }
  if (
    diff.cells.length === 0 &&
    diff.metrics.length === 0 &&
    diff.parameters.length === 0 &&
    !diff.status.changed &&
    !environmentDiffers(diff.environment)
  ) {
    out.push('no differences');
  }
  return `${out.join('\n')}\n`;
}

/**
 * `nbstage diff <job> <build-a> <build-b>`: what changed from A to B.
 *
 * @returns the exit code (0, whether or not they differ)
 * @throws NotFoundError for an unknown home, job or build
 */
export async function diffCommand(
  job: string,
  buildA: string,
  buildB: string,
  flags: HistoryFlags,
  io: HistoryIO = defaultIO(),
): Promise<number> {
  const diff = await withStore(flags, io, (store) => store.diff(job, buildA, buildB));
  io.stdout.write(
    flags.json === true ? `${JSON.stringify(diff, null, 2)}\n` : formatDiff(diff, colorWanted(io)),
  );
  return 0;
}
