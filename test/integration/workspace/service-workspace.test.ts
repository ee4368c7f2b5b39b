/**
 * Workspaces through a real `nbstage serve` (embedded queue, sandboxed kernels) and `nbstage run
 * --server`, from a git checkout: the notebook imports a module and reads data of the
 * repository at the same relative paths as embedded; excluded folders and `.nbstageignore`
 * patterns do not travel; a symlink to a file outside arrives as the same link, its target's
 * bytes unsent; what the run writes lands in the caller's checkout, also when a cell fails; an
 * unchanged second run uploads no content; the version keeps the manifest as inputs.json. Bad
 * input (a digest mismatch, a manifest naming `../x`, content not uploaded, an upload without
 * the run role) is refused naming the field, with nothing stored.
 */
import { createHash, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalManifestJson, createManifest } from '../../../pipelines/workspace/manifest';
import type { ServiceRun } from '../../../server/runs/service-run';
import { makeNotebook, runCli, tempDir } from '../../helpers/notebooks';
import { useServeProcess } from '../../helpers/serve-process';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** A git checkout: data, a module, a notebook in a subfolder, things that must not travel. */
function checkout(outside: string): string {
  const root = tempDir();
  const write = (rel: string, text: string | Buffer): void => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  write('data/train.csv', 'x,y\n1,2\n3,4\n');
  write('src/__init__.py', '');
  write('src/helper.py', 'def double(v):\n    return 2 * v\n');
  write('node_modules/left/index.js', 'left out');
  write('scratch/big.bin', Buffer.alloc(1024, 7));
  write('.nbstageignore', 'scratch/\n');
  fs.symlinkSync(outside, path.join(root, 'data', 'external.csv'));
  execFileSync('git', ['init', '-q', root]);
  return root;
}

/** The probe notebook of the checkout: what it sees, and what it writes. */
function notebook(fail: boolean): object {
  return makeNotebook([
    [
      'import os, sys, json',
      'sys.path.insert(0, "..")',
      'from src.helper import double',
      'rows = open("../data/train.csv").read().splitlines()',
      'print("rows", len(rows) - 1, "double", double(21))',
      'print("node_modules", os.path.exists("../node_modules"), "scratch", os.path.exists("../scratch"))',
      'print("link", os.path.islink("../data/external.csv"), os.readlink("../data/external.csv"))',
      'os.makedirs("../model", exist_ok=True)',
      'json.dump({"weights": [0.5, 1.5]}, open("../model/model.json", "w"))',
    ].join('\n'),
    fail ? 'raise RuntimeError("after writing")' : 'print("done")',
  ]);
}

describe('workspaces through nbstage serve', () => {
  const service = useServeProcess();
  const home = service.home;

  const url = (): string => service.url();
  const run = (nb: string, extra: string[] = []): ReturnType<typeof runCli> =>
    runCli(['run', '--no-progress', '--server', url(), ...extra, nb], {
      env: { NBSTAGE_TOKEN: service.token('run'), WORKSPACE: '' },
    });
  const api = async (
    route: string,
    init: RequestInit = {},
    token = service.token('run'),
  ): Promise<Response> =>
    fetch(`${url()}${route}`, {
      ...init,
      headers: { Authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
    });

  it('runs in a copy of the checkout and brings back what it wrote', async () => {
    const outside = path.join(tempDir(), 'external.csv');
    fs.writeFileSync(outside, 'outside bytes that must not travel');
    const root = checkout(outside);
    const nb = path.join(root, 'notebooks', 'probe.ipynb');
    fs.mkdirSync(path.dirname(nb));
    fs.writeFileSync(nb, JSON.stringify(notebook(false)));

    const first = await run(nb);
    expect([first.code, first.stderr]).toEqual([0, expect.any(String)]);
    expect(first.stdout).toContain('rows 2 double 42');
    expect(first.stdout).toContain('node_modules False scratch False');
    expect(first.stdout).toContain(`link True ${outside}`);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'model', 'model.json'), 'utf8'))).toEqual({
      weights: [0.5, 1.5],
    });
    // Five files and the link; the checkout's executed notebook is this run's own, left out.
    expect(first.stderr).toMatch(/workspace .*: 5 files/);
    expect(first.stderr).toContain('wrote 1 outputs: model/model.json');

    // The run's record and version: the inputs by digest, the outputs by content.
    const runs = (await (await api('/api/v1/runs')).json()) as ServiceRun[];
    const record = runs.find((r) => r.workspace !== undefined) as ServiceRun;
    const ws = record.workspace;
    expect(ws?.cwd).toBe('notebooks');
    expect(ws?.outputs.map((o) => o.path)).toEqual(['model/model.json']);
    const inputs = execFileSync(
      'git',
      [
        '--git-dir',
        path.join(home, 'history.git'),
        'show',
        `${record.version?.commit}:inputs.json`,
      ],
      { encoding: 'utf8' },
    );
    expect(sha256(inputs)).toBe(ws?.digest);
    const paths = (JSON.parse(inputs) as { entries: { path: string; type: string }[] }).entries;
    expect(paths.map((e) => `${e.path}:${e.type}`)).toEqual([
      '.nbstageignore:file',
      'data/external.csv:symlink',
      'data/train.csv:file',
      'notebooks/probe.ipynb:file',
      'src/__init__.py:file',
      'src/helper.py:file',
    ]);
    // The outside file's bytes never reached the content store.
    const stored = (await api(`/api/v1/blobs/${sha256(fs.readFileSync(outside))}`)).status;
    expect(stored).toBe(404);

    // Unchanged, a second run sends the manifest only.
    fs.rmSync(path.join(root, 'model'), { recursive: true });
    const second = await run(nb);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('sent 0 new contents (0.0 MiB)');
    // The worker kept the first run's copy and synced it: nothing to write (5 files, 1 link).
    expect(second.stderr).toContain(
      'the copy an earlier run left on the worker, synced: 0 files written, 6 kept',
    );
  });

  it("shares a session's copy: stage two sees what stage one wrote, and sends nothing new", async () => {
    const root = tempDir();
    execFileSync('git', ['init', '-q', root]);
    fs.writeFileSync(path.join(root, 'input.txt'), 'seed\n');
    const stage = (source: string): string => {
      const file = path.join(root, `stage-${randomUUID()}.ipynb`);
      fs.writeFileSync(file, JSON.stringify(makeNotebook([source])));
      return file;
    };
    const session = `test-${randomUUID()}`;
    const one = stage(
      'kept = open("input.txt").read().strip()\nopen("stage1.txt", "w").write(kept + "-one")',
    );
    const two = stage('print("two sees", open("stage1.txt").read(), kept)');
    expect((await run(one, ['--session', session])).code).toBe(0);
    expect(fs.readFileSync(path.join(root, 'stage1.txt'), 'utf8')).toBe('seed-one');
    const second = await run(two, ['--session', session]);
    expect([second.code, second.stdout]).toEqual([
      0,
      expect.stringContaining('two sees seed-one seed'),
    ]);
    // Only the new notebook's content was new to the service.
    expect(second.stderr).toContain('sent 1 new contents');
    expect(second.stderr).toContain('the copy an earlier run left on the worker, synced');
  });

  it('brings back what a failing run wrote; --no-outputs brings nothing', async () => {
    const outside = path.join(tempDir(), 'external.csv');
    fs.writeFileSync(outside, 'x');
    const root = checkout(outside);
    const nb = path.join(root, 'notebooks', 'probe.ipynb');
    fs.mkdirSync(path.dirname(nb));
    fs.writeFileSync(nb, JSON.stringify(notebook(true)));
    const failed = await run(nb);
    expect(failed.code).toBe(1);
    expect(fs.existsSync(path.join(root, 'model', 'model.json'))).toBe(true);
    fs.rmSync(path.join(root, 'model'), { recursive: true });
    const none = await run(nb, ['--no-outputs']);
    expect(none.code).toBe(1);
    expect(fs.existsSync(path.join(root, 'model'))).toBe(false);
  });

  /** Creates a run whose workspace is the manifest `manifestJson`; its status and message. */
  const runWith = async (manifestJson: string): Promise<{ status: number; message: string }> => {
    const res = await api('/api/v1/runs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        notebook: makeNotebook(['1']),
        workspace: { manifest: sha256(manifestJson) },
      }),
    });
    const body = (await res.json()) as { error?: { message: string } };
    return { status: res.status, message: body.error?.message ?? '' };
  };

  it('answers from a manifest digest alone which of its contents the service lacks', async () => {
    const ask = async (body: object): Promise<{ status: number; json: unknown }> => {
      const res = await api('/api/v1/blobs/missing', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    };
    const sent = Buffer.from(`sent-${randomUUID()}`);
    const unsent = Buffer.from(`unsent-${randomUUID()}`);
    expect((await api(`/api/v1/blobs/${sha256(sent)}`, { method: 'PUT', body: sent })).status).toBe(
      201,
    );
    const manifest = canonicalManifestJson(
      createManifest([
        { path: 'a.txt', type: 'file', sha256: sha256(sent), size: sent.length, mode: 0o644 },
        { path: 'b.txt', type: 'file', sha256: sha256(unsent), size: unsent.length, mode: 0o644 },
      ]),
    );
    const digest = sha256(manifest);
    // Not stored yet: the manifest itself is missing, and the client sends the whole list next.
    expect(await ask({ digests: [digest], manifest: digest })).toEqual({
      status: 200,
      json: { missing: [digest] },
    });
    await api(`/api/v1/blobs/${digest}`, { method: 'PUT', body: manifest });
    expect(await ask({ digests: [digest], manifest: digest })).toEqual({
      status: 200,
      json: { missing: [sha256(unsent)] },
    });
    await api(`/api/v1/blobs/${sha256(unsent)}`, { method: 'PUT', body: unsent });
    expect(await ask({ digests: [digest], manifest: digest })).toEqual({
      status: 200,
      json: { missing: [] },
    });
    // A stored manifest that is not one is named, as at run creation.
    const bad = '{"version":1,"entries":[{"path":"../x","type":"symlink","target":"y"}]}';
    await api(`/api/v1/blobs/${sha256(bad)}`, { method: 'PUT', body: bad });
    const refused = await ask({ digests: [], manifest: sha256(bad) });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.json)).toContain('body.manifest/entries/0/path');
  });

  it('refuses bad input naming the field, storing nothing', async () => {
    const content = Buffer.from(`test-${randomUUID()}`);
    const digest = sha256(content);
    const wrong = await api(`/api/v1/blobs/${sha256('other')}`, { method: 'PUT', body: content });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toContain(
      `has sha256 ${digest}`,
    );
    expect((await api(`/api/v1/blobs/${sha256('other')}`)).status).toBe(404);
    expect(
      (
        await api(
          `/api/v1/blobs/${digest}`,
          { method: 'PUT', body: content },
          service.token('read'),
        )
      ).status,
    ).toBe(403);
    expect((await api(`/api/v1/blobs/${digest}`)).status).toBe(404);

    // A manifest naming ../x, uploaded as a blob, is refused when the run is created.
    const escape = canonicalManifestJson(
      createManifest([
        { path: 'ok.txt', type: 'file', sha256: digest, size: content.length, mode: 0o644 },
      ]),
    ).replace('"ok.txt"', '"../x"');
    expect(
      (await api(`/api/v1/blobs/${sha256(escape)}`, { method: 'PUT', body: escape })).status,
    ).toBe(201);
    const created = await runWith(escape);
    expect(created.status).toBe(400);
    expect(created.message).toMatch(/^body\.workspace\.manifest\/entries\/0\/path: .*\.\./);

    // A manifest whose content was never uploaded is refused before anything is queued.
    const unsent = canonicalManifestJson(
      createManifest([
        { path: 'data.csv', type: 'file', sha256: digest, size: content.length, mode: 0o644 },
      ]),
    );
    await api(`/api/v1/blobs/${sha256(unsent)}`, { method: 'PUT', body: unsent });
    const before = ((await (await api('/api/v1/runs')).json()) as unknown[]).length;
    const missing = await runWith(unsent);
    expect(missing.status).toBe(400);
    expect(missing.message).toContain('the content of "data.csv" was not uploaded');
    expect(((await (await api('/api/v1/runs')).json()) as unknown[]).length).toBe(before);
  });
});
