/**
 * Secrets printed in pieces by an embedded `nbstage run` on a real ipykernel: in two halves
 * (flushed apart), one character at a time, half to stdout and half to stderr; equal to a
 * parameter value (the injected cell); as a metric name; with terminal escape codes between its
 * characters (also cut inside one between chunks). None of it shows the secret on the console,
 * in the executed notebook, the JUnit XML, the HTML report or the `--json` summary, also once
 * escape codes are stripped or rendered;
 * each shows `****` where the secret was. What could start a secret is held back one chunk at
 * most: the text before it is on the console while the cell still runs. Failing expectations
 * show text reversed, so a failure never prints the secret as it is.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Notebook } from '../../../pipelines/notebook/model';
import { stripAnsi } from '../../../pipelines/reports/ansi';
import { MASK } from '../../../pipelines/secrets/mask';
import {
  cellText,
  cleanupDirs,
  makeNotebook,
  readJson,
  runCli,
  writeNotebook,
} from '../../helpers/notebooks';

const SECRET = `Sx9-${randomUUID()}`;
const HALF = 9;

/** Reversed, so that a failing expectation never prints the secret as it is. */
function reversed(text: string): string {
  return [...text].reverse().join('');
}

/** Checks that `text` (named `where`) holds no secret, and at least `masks` masks. */
function expectMasked(where: string, text: string, masks = 1): void {
  expect([where, text.includes(SECRET), text.includes(SECRET.slice(HALF))]).toEqual([
    where,
    false,
    false,
  ]);
  expect([where, text.split(MASK).length - 1 >= masks]).toEqual([where, true]);
}

const PIECES = [
  { source: 'token = ""', tags: ['parameters'] },
  'import os, sys, time\ns = os.environ["API_KEY"]\n' +
    `print("halves", s[:${HALF}], end="", flush=True)\ntime.sleep(0.3)\nprint(s[${HALF}:], flush=True)`,
  'print("chars ", end="", flush=True)\nfor c in s:\n    print(c, end="", flush=True)\n    time.sleep(0.005)\nprint(flush=True)',
  `print("split", s[:${HALF}], end="", flush=True)\ntime.sleep(0.3)\n` +
    `print(s[${HALF}:], "end", file=sys.stderr, flush=True)`,
  'import nbstage\nnbstage.record(s, 0.5)\nprint("same as the parameter:", token == s)',
];

/** Every string in a JSON value, joined: the text of a notebook as its readers decode it. */
function strings(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value)
      .map(([key, item]) => `${key}\n${strings(item)}`)
      .join('\n');
  }
  return '';
}

describe('nbstage run with a secret printed in pieces', () => {
  afterAll(cleanupDirs);

  const run = (args: string[], onStdout?: (chunk: string) => void): ReturnType<typeof runCli> =>
    runCli(['run', '--no-progress', ...args], {
      env: { NBSTAGE_JUPYTER_URL: '' },
      onStdout: onStdout === undefined ? undefined : (chunk) => onStdout(chunk),
    });

  it('never shows it on the console or in the files, and shows **** where it was', async () => {
    const file = writeNotebook(makeNotebook(PIECES));
    const junit = file.replace(/\.ipynb$/, '.xml');
    const html = file.replace(/\.ipynb$/, '.html');
    const res = await run([
      file,
      '--secret',
      `API_KEY=${SECRET}`,
      '-p',
      `token=${SECRET}`,
      '--junit',
      junit,
      '--html',
      html,
    ]);
    expect([res.code, reversed(res.stderr)]).toEqual([0, reversed(res.stderr)]);
    const outFile = file.replace(/\.ipynb$/, '.executed.ipynb');
    const out = readJson<Notebook>(outFile);
    // The kernel had the secret: the parameter it got is the secret itself.
    expect(cellText(out, 5)).toBe(`${MASK} = 0.5same as the parameter: True\n`);
    expect(reversed(cellText(out, 2))).toBe(reversed(`halves ${MASK}\n`));
    expect(reversed(cellText(out, 3))).toBe(reversed(`chars ${MASK}\n`));
    expect(reversed(cellText(out, 4))).toBe(reversed(`split ${MASK} end\n`));
    expect([out.cells[1].source].flat().join('')).toContain(`token = "${MASK}"`);
    expect(out.metadata.nbstage?.metrics).toEqual({ [MASK]: 0.5 });
    expectMasked('stdout', res.stdout, 3);
    expectMasked('stderr', res.stderr, 0);
    // Jenkins shows both streams in one log: the halves never meet there either.
    expectMasked('stdout+stderr', res.stdout + res.stderr, 3);
    expectMasked('stderr+stdout', res.stderr + res.stdout, 3);
    expectMasked('executed notebook', fs.readFileSync(outFile, 'utf8'), 5);
    expectMasked('junit', fs.readFileSync(junit, 'utf8'));
    expectMasked('html', fs.readFileSync(html, 'utf8'));
  });

  it('keeps it out of the --json summary (metrics, the error)', async () => {
    const file = writeNotebook(
      makeNotebook([...PIECES, 'raise ValueError("bad " + s[:5] + s[5:])']),
    );
    const res = await run([file, '--json', '--secret', `API_KEY=${SECRET}`]);
    expect(res.code).toBe(1);
    const summary = JSON.parse(res.stdout) as {
      metrics: Record<string, unknown>;
      error: { message: string };
    };
    expect(summary.metrics).toEqual({ [MASK]: 0.5 });
    expect(reversed(summary.error.message)).toContain(reversed(`bad ${MASK}`));
    expectMasked('stdout', res.stdout, 2);
    expectMasked('stderr', res.stderr, 0);
  });

  it('holds back only what could start the secret, and only until the next chunk', async () => {
    const file = writeNotebook(
      makeNotebook([
        'import os, time\ns = os.environ["API_KEY"]\n' +
          'print("loss 0.5 " + s[:4], end="", flush=True)\ntime.sleep(1.5)\n' +
          'print(s[4:] + " done", flush=True)',
      ]),
    );
    const seen: { at: number; text: string }[] = [];
    const res = await run([file, '--secret', `API_KEY=${SECRET}`], (text) =>
      seen.push({ at: Date.now(), text }),
    );
    expect(res.code).toBe(0);
    const at = (text: string): number => seen.find((s) => s.text.includes(text))?.at ?? NaN;
    const before = at('loss 0.5 ');
    const masked = at(`${MASK} done`);
    // The text before the secret's start came at once; the start itself waited for the rest.
    expect(masked - before).toBeGreaterThan(1000);
    expect(seen.find((s) => s.text.includes('loss 0.5 '))?.text).not.toContain(SECRET.slice(0, 4));
  });

  it('masks it split by terminal escape codes, also as the console and reports show it', async () => {
    const file = writeNotebook(
      makeNotebook([
        'import os, sys, time\ns = os.environ["API_KEY"]\nprint("sgr", "\\x1b[31m".join(s), flush=True)',
        `print("cut", s[:${HALF}] + "\\x1b[3", end="", flush=True)\ntime.sleep(0.3)\n` +
          `print("1m" + s[${HALF}:] + "\\x1b[0m", flush=True)`,
        `print("\\x1b[1m" + s[:${HALF}] + "\\x1b[0m\\x1b]0;t\\x07" + s[${HALF}:], file=sys.stderr)`,
      ]),
    );
    const junit = file.replace(/\.ipynb$/, '.xml');
    const html = file.replace(/\.ipynb$/, '.html');
    const res = await run([
      file,
      '--secret',
      `API_KEY=${SECRET}`,
      '--junit',
      junit,
      '--html',
      html,
    ]);
    expect([res.code, reversed(res.stderr)]).toEqual([0, reversed(res.stderr)]);
    const outFile = file.replace(/\.ipynb$/, '.executed.ipynb');
    const out = readJson<Notebook>(outFile);
    expect(reversed(cellText(out, 0))).toBe(reversed(`sgr ${MASK}\n`));
    expect(reversed(cellText(out, 1))).toBe(reversed(`cut ${MASK}\x1b[0m\n`));
    expect(reversed(cellText(out, 2))).toBe(reversed(`\x1b[1m${MASK}\n`));
    // The console strips the codes (no colour when not a terminal): the characters would meet.
    for (const [where, text] of [
      ['stdout', res.stdout],
      ['stderr', res.stderr],
      ['stdout+stderr', res.stdout + res.stderr],
    ]) {
      expectMasked(where, text, 0);
      expectMasked(`${where}, stripped`, stripAnsi(text), 0);
    }
    expectMasked('stdout', stripAnsi(res.stdout), 2);
    expectMasked('executed notebook', stripAnsi(strings(out)), 3);
    expectMasked('executed notebook file', fs.readFileSync(outFile, 'utf8'), 3);
    expectMasked('junit', fs.readFileSync(junit, 'utf8'));
    // The report renders the codes as spans: without the tags, the characters would meet.
    expectMasked('html', fs.readFileSync(html, 'utf8').replace(/<[^>]*>/g, ''));
  });
});
