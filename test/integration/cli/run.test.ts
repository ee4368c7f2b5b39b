/**
 * `nbstage run` end to end: the real CLI, real ipykernel and bash kernels, launched by nbstage
 * and spoken to over ZMQ (the default); Jupyter servers and gateways as providers have their own
 * tests in kernels/remote-providers.test.ts, the shared server in signals.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CodeCell, Notebook } from '../../../pipelines/notebook/model';
import {
  cellText,
  cleanupDirs,
  makeNotebook,
  readJson,
  runCli,
  writeNotebook,
  type CliResult,
} from '../../helpers/notebooks';

const PNG_1x1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('nbstage run', () => {
  afterAll(cleanupDirs);

  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
    runCli(['run', '--no-progress', ...args], {
      env: {
        NBSTAGE_JUPYTER_URL: '',
        ...env,
      },
    });

  const executed = (input: string): Notebook =>
    readJson(input.replace(/\.ipynb$/, '.executed.ipynb'));

  it('keeps outputs of every mime type and streams them to the console', async () => {
    const nb = makeNotebook([
      'import sys\nprint("to stdout")\nprint("to stderr", file=sys.stderr)',
      '6 * 7',
      'from IPython.display import display, HTML, JSON, Markdown, Latex, SVG, Image\n' +
        'display(HTML("<b>bold</b>"))\n' +
        'display(JSON({"a": 1}))\n' +
        'display(Markdown("# title"))\n' +
        'display(Latex(r"$x^2$"))\n' +
        'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>\'))\n' +
        `import base64\ndisplay(Image(data=base64.b64decode("${PNG_1x1}"), format="png"))`,
    ]);
    const file = writeNotebook(nb);
    const res = await run([file]);
    expect(res.stderr).toContain('to stderr');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('to stdout');
    expect(res.stdout).toContain('42');
    const out = executed(file);
    expect(cellText(out, 0)).toBe('to stdout\nto stderr\n');
    const result = (out.cells[1] as CodeCell).outputs[0];
    expect(result).toMatchObject({ output_type: 'execute_result', execution_count: 2 });
    const mimes = (out.cells[2] as CodeCell).outputs.flatMap((o) =>
      o.output_type === 'display_data' ? Object.keys(o.data) : [],
    );
    expect(mimes).toEqual(
      expect.arrayContaining([
        'text/html',
        'application/json',
        'text/markdown',
        'text/latex',
        'image/svg+xml',
        'image/png',
      ]),
    );
    const png = (out.cells[2] as CodeCell).outputs.find(
      (o) => o.output_type === 'display_data' && 'image/png' in o.data,
    );
    expect(png?.output_type === 'display_data' && String(png.data['image/png']).trim()).toBe(
      PNG_1x1,
    );
    expect(out.metadata.nbstage).toMatchObject({ status: 'completed', kernel: 'python3' });
    const timing = (out.cells[0] as CodeCell).metadata.execution ?? {};
    expect(Object.keys(timing)).toEqual(
      expect.arrayContaining([
        'iopub.status.busy',
        'iopub.execute_input',
        'shell.execute_reply',
        'iopub.status.idle',
      ]),
    );
  });

  it('stops at a failing cell with exit 1, keeps its traceback and does not run the rest', async () => {
    const file = writeNotebook(
      makeNotebook(['x = 1', 'raise ValueError("bad value")', 'print("never")']),
    );
    const res = await run([file, '--junit', file.replace('.ipynb', '.xml')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/cell 1 raised ValueError: bad value/);
    const out = executed(file);
    expect(cellText(out, 1)).toContain('ValueError: bad value');
    expect(cellText(out, 2)).toBe('');
    expect(out.cells[2].metadata.nbstage).toMatchObject({ status: 'aborted' });
    expect(out.metadata.nbstage).toMatchObject({
      status: 'failed',
      exception: { cell_index: 1, ename: 'ValueError', evalue: 'bad value' },
    });
    const xml = fs.readFileSync(file.replace('.ipynb', '.xml'), 'utf8');
    expect(xml).toMatch(/<failure[^>]*ValueError/);
    expect(xml).not.toContain('\x1b[');
  });

  it('keeps going after errors with --allow-errors', async () => {
    const file = writeNotebook(makeNotebook(['1/0', 'print("after")']));
    const res = await run([file, '--allow-errors']);
    expect(res.code).toBe(0);
    const out = executed(file);
    expect(cellText(out, 0)).toContain('ZeroDivisionError');
    expect(cellText(out, 1)).toBe('after\n');
  });

  it('treats a raises-exception cell as expected and skips skip-execution cells', async () => {
    const file = writeNotebook(
      makeNotebook([
        { source: 'raise KeyError("expected")', tags: ['raises-exception'] },
        { source: 'print("skipped")', tags: ['skip-execution'] },
        'print("ran")',
      ]),
    );
    const res = await run([file]);
    expect(res.code).toBe(0);
    const out = executed(file);
    expect(cellText(out, 0)).toContain('KeyError');
    expect(out.cells[1].metadata.nbstage).toMatchObject({ status: 'skipped' });
    expect(cellText(out, 1)).toBe('');
    expect(cellText(out, 2)).toBe('ran\n');
  });

  it('ends successfully on sys.exit(0) without running later cells', async () => {
    const file = writeNotebook(
      makeNotebook(['print("before")', 'import sys\nsys.exit(0)', 'print("after")']),
    );
    const res = await run([file]);
    expect(res.code).toBe(0);
    const out = executed(file);
    expect(out.metadata.nbstage).toMatchObject({ status: 'completed' });
    expect(cellText(out, 0)).toBe('before\n');
    expect(cellText(out, 1)).not.toContain('SystemExit');
    expect(cellText(out, 2)).toBe('');
  });

  it('fails sys.exit(3) like any error', async () => {
    const file = writeNotebook(makeNotebook(['import sys\nsys.exit(3)']));
    const res = await run([file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('SystemExit');
  });

  it('gives input() a clear error instead of hanging', async () => {
    const file = writeNotebook(makeNotebook(['name = input("name? ")']));
    const res = await run([file]);
    expect(res.code).toBe(1);
    expect(cellText(executed(file), 0)).toMatch(/StdinNotImplementedError/);
  });

  it('updates outputs by display id, also across cells', async () => {
    const file = writeNotebook(
      makeNotebook([
        'h = display("first", display_id=True)\nh.update("second")',
        'h.update("third")',
        'display("x", display_id="d2")\nfrom IPython.display import update_display\nupdate_display("y", display_id="d2")',
      ]),
    );
    const res = await run([file]);
    expect(res.code).toBe(0);
    const out = executed(file);
    expect(cellText(out, 0)).toBe("'third'");
    expect(cellText(out, 1)).toBe('');
    expect(cellText(out, 2)).toBe("'y'");
  });

  it('clears on the next output with clear_output(wait=True)', async () => {
    const file = writeNotebook(
      makeNotebook([
        'from IPython.display import clear_output\nprint("a")\nclear_output(wait=True)\nprint("b")',
        'from IPython.display import clear_output\nprint("c")\nclear_output()',
      ]),
    );
    const res = await run([file]);
    expect(res.code).toBe(0);
    const out = executed(file);
    expect(cellText(out, 0)).toBe('b\n');
    expect(cellText(out, 1)).toBe('');
  });

  it('exits 4 when a cell kills its kernel, keeping the partial notebook', async () => {
    // The cell dies a moment after it starts, as real kernels do (out of memory, a crash in a
    // library). A kill within microseconds of the previous reply can take that reply and the
    // next cell's start with it, unsent; see the next test for what is always known then.
    const file = writeNotebook(
      makeNotebook([
        'print("alive")',
        'import os, signal, time\ntime.sleep(0.2)\nos.kill(os.getpid(), signal.SIGKILL)',
        'print("never")',
      ]),
    );
    const res = await run([file]);
    expect(res.code).toBe(4);
    // The kernel nbstage launched knows the signal, and the cell it came in, and its peak.
    expect(res.stderr).toMatch(
      /kernel python3 was killed by SIGKILL during cell 1 \(peak [\d.]+ MiB of [\d.]+ GiB: unlikely to be out of memory\)/,
    );
    const out = executed(file);
    expect(cellText(out, 0)).toBe('alive\n');
    expect(out.metadata.nbstage).toMatchObject({
      status: 'kernel_died',
      exception: { cell_index: 1 },
    });
    expect(out.cells[1].metadata.nbstage).toMatchObject({ status: 'kernel_died' });
  });

  it('exits 4 when a kernel is killed at once, whatever messages died with it', async () => {
    const file = writeNotebook(
      makeNotebook(['print("alive")', 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)']),
    );
    const res = await run([file]);
    expect(res.code).toBe(4);
    const out = executed(file);
    expect(out.metadata.nbstage).toMatchObject({ status: 'kernel_died' });
    expect(out.cells[1].metadata.nbstage).toMatchObject({
      status: expect.stringMatching(/kernel_died|aborted/),
    });
  });

  it('exits 3 on --cell-timeout, naming the cell, keeping the partial notebook', async () => {
    const file = writeNotebook(
      makeNotebook(['print("started")', 'while True:\n    pass', 'print("never")']),
    );
    const res = await run([file, '--cell-timeout', '1']);
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('cell 1 timed out after 1 s');
    const out = executed(file);
    expect(cellText(out, 0)).toBe('started\n');
    expect(out.cells[1].metadata.nbstage).toMatchObject({ status: 'timeout' });
    expect(out.metadata.nbstage).toMatchObject({ status: 'timeout', exception: { cell_index: 1 } });
    expect(res.ms).toBeLessThan(30000);
  });

  it('exits 3 on the run --timeout', async () => {
    const file = writeNotebook(makeNotebook(['import time', 'time.sleep(60)']));
    const res = await run([file, '--timeout', '2']);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/run timed out after 2 s \(in cell 1\)/);
  });

  it('runs the preamble and the selected stages only', async () => {
    const nb = makeNotebook([
      'import math\nsteps = []',
      { source: 'steps.append("prepare")', tags: ['stage:prepare'] },
      'steps.append("prepare-2")',
      { source: 'steps.append("train")', tags: ['stage:train'] },
      { source: 'steps.append("evaluate")\nprint(steps)', tags: ['stage:evaluate'] },
    ]);
    const file = writeNotebook(nb);
    const res = await run([file, '--stage', 'train', '--stage', 'evaluate']);
    expect(res.code).toBe(0);
    const out = executed(file);
    expect(cellText(out, 4)).toBe("['train', 'evaluate']\n");
    expect(out.cells[1].metadata.nbstage).toBeUndefined();
    expect(out.cells[0].metadata.nbstage).toMatchObject({ status: 'ok', stage: null });
    expect(out.cells[3].metadata.nbstage).toMatchObject({ status: 'ok', stage: 'train' });
    expect(out.metadata.nbstage).toMatchObject({ stages: ['train', 'evaluate'] });
  });

  it('injects parameters after the parameters cell and masks secrets everywhere', async () => {
    const secret = 'hunter2-Sup3r-s3cret';
    const nb = makeNotebook([
      { source: 'epochs = 1\nname = "default"', tags: ['parameters'] },
      'import os\nprint(epochs, name, type(epochs).__name__)',
      `tok = os.environ["API_TOKEN"]\nprint("token is", tok)\nprint(repr(tok))`,
      'from IPython.display import HTML\nHTML(f"<i>{tok}</i>")',
      'raise RuntimeError("leaked " + tok)',
    ]);
    const file = writeNotebook(nb);
    const junit = file.replace('.ipynb', '.xml');
    const html = file.replace('.ipynb', '.html');
    const res = await run([
      file,
      '-p',
      'epochs=5',
      '-r',
      'name=5',
      '--secret',
      `API_TOKEN=${secret}`,
      '--junit',
      junit,
      '--html',
      html,
    ]);
    expect(res.code).toBe(1);
    const outFile = file.replace('.ipynb', '.executed.ipynb');
    const out = readJson(outFile);
    expect(out.cells[1].metadata.tags).toEqual(['injected-parameters']);
    expect(cellText(out, 2)).toBe('5 5 int\n');
    expect(cellText(out, 3)).toContain('token is ****');
    for (const text of [
      res.stdout,
      res.stderr,
      fs.readFileSync(outFile, 'utf8'),
      fs.readFileSync(junit, 'utf8'),
      fs.readFileSync(html, 'utf8'),
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(res.stderr).toContain('leaked ****');
    expect(out.metadata.nbstage).toMatchObject({
      parameters: { epochs: 5, name: '5', API_TOKEN: '****' },
    });
  });

  it('runs bash notebooks with bash parameters', async () => {
    const nb = makeNotebook(
      [{ source: 'greeting=hello', tags: ['parameters'] }, 'echo "$greeting from bash"'],
      'bash',
    );
    const file = writeNotebook(nb);
    const res = await run([file, '-p', 'greeting=hi there']);
    expect(res.code).toBe(0);
    expect(cellText(executed(file), 2)).toBe('hi there from bash\n');
  });

  it('fails a bash cell whose command fails', async () => {
    const file = writeNotebook(makeNotebook(['false', 'echo never'], 'bash'));
    const res = await run([file]);
    expect(res.code).toBe(1);
    expect(executed(file).cells[1].metadata.nbstage).toMatchObject({ status: 'aborted' });
  });

  it('collects recorded metrics into the notebook and the JUnit properties', async () => {
    const file = writeNotebook(
      makeNotebook([
        'from nbstage import record\nrecord("accuracy", 0.93)\nrecord("loss", 0.12)',
        'record("accuracy", 0.95)',
      ]),
    );
    const junit = file.replace('.ipynb', '.xml');
    const res = await run([file, '--junit', junit]);
    expect(res.code).toBe(0);
    expect(executed(file).metadata.nbstage).toMatchObject({
      metrics: { accuracy: 0.95, loss: 0.12 },
    });
    expect(fs.readFileSync(junit, 'utf8')).toMatch(/name="metric\.accuracy" value="0\.95"/);
  });

  it('prints one JSON summary with --json', async () => {
    const file = writeNotebook(makeNotebook(['print("quiet")', '1/0']));
    const res = await run([file, '--json']);
    expect(res.code).toBe(1);
    const lines = res.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(summary).toMatchObject({
      status: 'failed',
      exit_code: 1,
      cells: { ok: 1, error: 1 },
      error: { code: 'NBSTAGE_CELL_FAILED', cell_index: 1 },
    });
    expect(res.stdout).not.toContain('quiet\n');
  });

  it("prints each cell's header, outputs and footer together, in order, despite pipelining", async () => {
    const cells = Array.from({ length: 30 }, (_, i) => `print("out-${i}")`);
    const file = writeNotebook(makeNotebook(cells));
    const res = await run([file]);
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n');
    const headers = lines.flatMap((l, n) => (/^── \[\d+\/30\] cell \d+/.test(l) ? [n] : []));
    expect(headers).toHaveLength(30);
    headers.forEach((at, i) => {
      expect(lines[at]).toContain(`cell ${i} ·`);
      expect(lines[at + 1]).toBe(`out-${i}`);
      expect(lines[at + 2]).toMatch(/^\s+✓ \d+\.\d+ s, peak \d+(\.\d)? MiB$/);
    });
  });

  it('keeps every byte of fast, large output (no server rate limit drops it)', async () => {
    const file = writeNotebook(
      makeNotebook([
        'import sys\nline = "y" * 99 + "\\n"\nfor _ in range(40):\n    sys.stdout.write(line * 1000)',
      ]),
    );
    const res = await run([file]);
    expect(res.code).toBe(0);
    const text = cellText(executed(file), 0);
    expect(text.length).toBe(40 * 1000 * 100);
    expect(text).not.toContain('rate exceeded');
    expect(res.stdout.split('y'.repeat(99)).length - 1).toBe(40000);
  });

  it('writes to -o and sets the kernel cwd to the notebook folder by default', async () => {
    const file = writeNotebook(makeNotebook(['import os\nprint(os.getcwd())']));
    const out = path.join(path.dirname(file), 'sub', 'out.ipynb');
    const res = await run([file, '-o', out]);
    expect(res.code).toBe(0);
    expect(cellText(readJson(out), 0).trim()).toBe(fs.realpathSync(path.dirname(file)));
  });
});
