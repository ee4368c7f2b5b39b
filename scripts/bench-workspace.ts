/**
 * The workspace cases of `npm run bench`: `nbstage run --server` against a real `nbstage serve`
 * (embedded queue, one worker) through a byte-counting TCP proxy, so what a run sends is counted
 * on the wire, not by the code under test. Each case has its own service, proxy, hash cache
 * (`NBSTAGE_CACHE_DIR`) and temporary folders, all removed when it ends. Series repeat
 * BENCH_WS_REPEAT times (default 3). During every run the service's `GET /healthz` is timed
 * every 100 ms: the longest says how long its event loop was held.
 *
 * - `workspace-bytes`: a workspace with a 48 MiB data file (deterministic random bytes), a few
 *   small files and a notebook that reads them. The first run (empty cache, empty service), then
 *   the unchanged runs, then runs each after a one-line change to a small text file: bytes
 *   client -> service and back, and the wall time, of each.
 * - `workspace-files`: an unchanged 10,000-file workspace (small files in 250 folders) against
 *   the same notebook with a workspace of only the notebook, interleaved, after excluded first
 *   runs (warm hash cache): the time the files add to a run in total, split by the run's record
 *   (to its creation, queued, on the worker, after), and on the client alone (scan, then manifest
 *   and missing check, timed in fresh processes); the service's share timed with its own code
 *   on its own content store in this process (the check before queueing, the worker's first copy
 *   and its sync of the kept copy, the walk for outputs). Each workspace is its own job, so the
 *   worker keeps each one's copy for its next run, as in CI. Also the cold first run (empty
 *   cache, empty service; it reports how it ended, and should it fail, the bench puts the rest
 *   into the store itself, timing a sample of `BlobDir.put`) and a run with a cold hash cache on
 *   a service that has the content.
 *
 * Figures only: nothing here is asserted, but every run must succeed and see its files.
 */
import { createCipheriv, createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobDir } from '../pipelines/workspace/blob-dir';
import { canonicalManifestJson, type FileEntry } from '../pipelines/workspace/manifest';
import { mapLimit } from '../pipelines/workspace/pool';
import { scanWorkspace } from '../pipelines/workspace/scan';
import { Masker } from '../pipelines/secrets/mask';
import {
  checkoutWorkspace,
  releaseWorkspace,
  workspaceOutputs,
} from '../server/runs/run-job-workspace';
import { WorkspaceTrees } from '../server/workers/workspace-trees';
import { checkWorkspace } from '../server/runs/run-workspace';
import type { ServiceRun } from '../server/runs/service-run';
import { ARTIFACTS_DIR } from '../server/store/git-version-store';
import { localContent } from '../server/workers/workspace-content';
import { median, msSince, notebook, pause, ratio, runTimed, type TimedRun } from './bench-common';
import { startServe, type BenchServe } from './bench-serve';
import { startWireProxy, wireDelta, type WireCounts, type WireProxy } from './bench-wire-proxy';

/** Repetitions of each series (BENCH_WS_REPEAT, default 3: the files case then takes ~2 min). */
const repeat = Number(process.env.BENCH_WS_REPEAT ?? 3);
const MIB = 1024 * 1024;
const DATA_BYTES = 48 * MIB;
/** The most bytes a run of an unchanged (or one-line-changed) workspace may send. */
const SMALL_RUN_BYTES = 2 * 1000 * 1000;
const FILE_FOLDERS = 250;
const FILES_PER_FOLDER = 40;
/** How often `GET /healthz` is timed during a run. */
const HEALTHZ_EVERY_MS = 100;
/** Files the bench stores through `BlobDir.put` to time it, when the cold run left some unsent. */
const PUT_SAMPLE = 200;
/** How long an emptied rate-limit bucket of the service takes to fill (200 at 50 a second). */
const RATE_LIMIT_REFILL_MS = 4000;
/** The most the 10,000 files may add to a run (DESIGN "Workspaces", issue 13). */
const ADDED_TARGET_MS = 500;

/** Writes `bytes` deterministic random bytes (an AES-CTR key stream from `seed`) to `file`. */
function writeRandomFile(file: string, bytes: number, seed: string): void {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MIB);
  const fd = fs.openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; left -= zeros.length) {
      fs.writeSync(fd, cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left)));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `text` at `rel` under `root`, making its folders. */
function put(root: string, rel: string, text: string | Buffer): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/**
 * Where a run's wall time went, in ms, by the clock of its record on the service: from the
 * command's start to the run's creation (the client's scan, missing check and uploads, and the
 * service's check of the request), queued, on the worker (the copy of the workspace, the
 * kernel, the walk for outputs, the removal of the copy), and from its end to the command's exit.
 */
interface RunPhases {
  to_created: number;
  queued: number;
  worker: number;
  after: number;
}

/** One `nbstage run --server` through the proxy: its wall time, output, and bytes each way. */
interface WireRun extends TimedRun {
  wire: WireCounts;
  /** Null when no run was created (the command failed before). */
  phases: RunPhases | null;
  /** The longest `GET /healthz` of the service while the run went on (sampled every 100 ms). */
  healthzMaxMs: number;
  /** What the client said it uploaded (its `workspace ...: sent N new contents` line). */
  said: { uploaded: number; mib: number; hashed: number } | null;
}

/** A service, the proxy in front of it, a hash cache and a scratch folder; `close()` ends all. */
class Rig {
  private constructor(
    readonly bin: string,
    readonly serve: BenchServe,
    readonly proxy: WireProxy,
    readonly base: string,
    readonly cacheDir: string,
  ) {}

  static async start(bin: string): Promise<Rig> {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-ws-'));
    let serve: BenchServe | undefined;
    try {
      serve = await startServe(bin, ['--workers', '1']);
      const proxy = await startWireProxy(serve.port);
      const cacheDir = path.join(base, 'hash-cache');
      fs.mkdirSync(cacheDir);
      return new Rig(bin, serve, proxy, base, cacheDir);
    } catch (err) {
      await serve?.close();
      fs.rmSync(base, { recursive: true, force: true });
      throw err;
    }
  }

  /** The client's environment: the bench's token and hash cache, no inherited workspace. */
  env(): NodeJS.ProcessEnv {
    return {
      NBSTAGE_TOKEN: this.serve.token,
      NBSTAGE_CACHE_DIR: this.cacheDir,
      NBSTAGE_URL: undefined,
      WORKSPACE: undefined,
      // The bench names each workspace's job itself: a Jenkins build it runs under must not.
      JOB_NAME: undefined,
      BUILD_NUMBER: undefined,
    };
  }

  /**
   * `nbstage run --server PROXY --workspace ROOT NB`, its executed notebook outside ROOT; a run
   * that fails rejects, unless `allowFailure`.
   */
  async run(nb: string, root: string, allowFailure = false): Promise<WireRun> {
    await this.proxy.idle();
    const before = this.proxy.counts();
    const out = path.join(this.base, 'executed.ipynb');
    const startMs = Date.now();
    const healthz = this.sampleHealthz();
    const result = await runTimed(
      process.execPath,
      [
        this.bin,
        'run',
        nb,
        '--no-progress',
        '--server',
        this.proxy.url,
        '--workspace',
        root,
        // One job per workspace, as in CI: a worker keeps each job's copy for its next run.
        '--job',
        `bench-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`,
        '-o',
        out,
      ],
      this.env(),
      { keepStdout: true, allowFailure },
    );
    const endMs = Date.now();
    const healthzMaxMs = await healthz.stop();
    await this.proxy.idle();
    const said = /sent (\d+) new contents \(([\d.]+) MiB\), hashed (\d+)/.exec(result.stderr);
    return {
      ...result,
      wire: wireDelta(before, this.proxy.counts()),
      phases: await this.phases(startMs, endMs),
      healthzMaxMs,
      said:
        said === null
          ? null
          : { uploaded: Number(said[1]), mib: Number(said[2]), hashed: Number(said[3]) },
    };
  }

  /** Times `GET /healthz` (straight to the service) every 100 ms until `stop()`: the longest. */
  private sampleHealthz(): { stop(): Promise<number> } {
    let on = true;
    let longest = 0;
    const loop = (async (): Promise<void> => {
      while (on) {
        const start = process.hrtime.bigint();
        await fetch(`${this.serve.url}/healthz`)
          .then((res) => res.arrayBuffer())
          .catch(() => undefined);
        longest = Math.max(longest, msSince(start));
        await pause(HEALTHZ_EVERY_MS);
      }
    })();
    return {
      stop: async () => {
        on = false;
        await loop;
        return longest;
      },
    };
  }

  /** The phases of the newest run on the service, when it was created after `startMs`. */
  private async phases(startMs: number, endMs: number): Promise<RunPhases | null> {
    // Straight to the service: the proxy counts the runs' own bytes only.
    const res = await fetch(`${this.serve.url}/api/v1/runs`, {
      headers: { Authorization: `Bearer ${this.serve.token}` },
    });
    if (!res.ok) {
      throw new Error(`GET /api/v1/runs: ${res.status} ${await res.text()}`);
    }
    const runs = (await res.json()) as ServiceRun[];
    const newest = runs.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0];
    if (newest === undefined || Date.parse(newest.createdAt) < startMs) {
      return null;
    }
    const created = Date.parse(newest.createdAt);
    const started = Date.parse(newest.startedAt ?? newest.createdAt);
    const finished = Date.parse(newest.finishedAt ?? newest.startedAt ?? newest.createdAt);
    return {
      to_created: created - startMs,
      queued: started - created,
      worker: finished - started,
      after: endMs - finished,
    };
  }

  async close(): Promise<void> {
    await this.proxy.close();
    await this.serve.close();
    fs.rmSync(this.base, { recursive: true, force: true });
  }
}

/** The last line of `text` that is not empty. */
function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .pop() ?? ''
  );
}

/** Throws unless the run's output holds `text`. */
function expectOutput(run: WireRun, text: string, what: string): void {
  if (!run.stdout.includes(text)) {
    throw new Error(`${what}: the notebook did not print "${text}": ${run.stdout.slice(-400)}`);
  }
}

const seconds = (ms: number): number => Number((ms / 1000).toFixed(3));
const mib = (bytes: number): number => Number((bytes / MIB).toFixed(2));

/** Bytes and time of a series of runs: medians, extremes. */
function series(runs: WireRun[]): Record<string, number> {
  const up = runs.map((r) => r.wire.up);
  const ms = runs.map((r) => r.ms);
  return {
    runs: runs.length,
    up_bytes_median: median(up),
    up_bytes_max: Math.max(...up),
    down_bytes_median: median(runs.map((r) => r.wire.down)),
    median_s: seconds(median(ms)),
    min_s: seconds(Math.min(...ms)),
    healthz_max_ms: Math.round(Math.max(...runs.map((r) => r.healthzMaxMs))),
  };
}

/** The `workspace-bytes` case. */
export async function workspaceBytes(bin: string): Promise<Record<string, unknown>> {
  const rig = await Rig.start(bin);
  try {
    const root = path.join(rig.base, 'ws');
    fs.mkdirSync(path.join(root, 'data'), { recursive: true });
    writeRandomFile(path.join(root, 'data', 'big.bin'), DATA_BYTES, 'nbstage-bench-48');
    put(root, 'src/__init__.py', '');
    put(root, 'src/helper.py', 'def double(v):\n    return 2 * v\n');
    put(root, 'config/settings.yaml', 'epochs: 3\nlr: 0.01\n');
    put(root, 'notes.txt', 'line 0\n');
    const nb = path.join(root, 'analysis.ipynb');
    put(
      root,
      'analysis.ipynb',
      JSON.stringify(
        notebook([
          [
            'import os',
            'from src.helper import double',
            'print("data", os.path.getsize("data/big.bin"), double(21))',
            'print("last", open("notes.txt").read().splitlines()[-1])',
          ].join('\n'),
        ]),
      ),
    );
    const workspaceBytesTotal = fs
      .readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);

    const first = await rig.run(nb, root);
    expectOutput(first, `data ${DATA_BYTES} 42`, 'first run');
    await pause();
    const unchanged: WireRun[] = [];
    for (let i = 0; i < repeat; i++) {
      const run = await rig.run(nb, root);
      expectOutput(run, 'last line 0', 'unchanged run');
      unchanged.push(run);
      await pause();
    }
    const changed: WireRun[] = [];
    for (let i = 1; i <= repeat; i++) {
      fs.appendFileSync(path.join(root, 'notes.txt'), `line ${i}\n`);
      const run = await rig.run(nb, root);
      expectOutput(run, `last line ${i}`, 'run after a one-line change');
      changed.push(run);
      await pause();
    }
    const unchangedSeries = series(unchanged);
    const changedSeries = series(changed);
    return {
      case: 'workspace-bytes',
      description:
        'nbstage run --server, workspace of a 48 MiB data file and 5 small files, bytes counted by a TCP proxy',
      repeat,
      workspace_bytes: workspaceBytesTotal,
      first: {
        up_bytes: first.wire.up,
        down_bytes: first.wire.down,
        s: seconds(first.ms),
        healthz_max_ms: Math.round(first.healthzMaxMs),
        client_said: first.said,
      },
      unchanged: { ...unchangedSeries, client_said: unchanged[0].said },
      one_line_change: { ...changedSeries, client_said: changed[0].said },
      first_up_vs_workspace: ratio(first.wire.up, workspaceBytesTotal),
      unchanged_up_vs_first: Number((unchangedSeries.up_bytes_max / first.wire.up).toFixed(5)),
      targets: {
        first_up_bytes_at_least: DATA_BYTES,
        later_up_bytes_under: SMALL_RUN_BYTES,
      },
      meets_target:
        first.wire.up >= DATA_BYTES &&
        unchangedSeries.up_bytes_max < SMALL_RUN_BYTES &&
        changedSeries.up_bytes_max < SMALL_RUN_BYTES,
    };
  } finally {
    await rig.close();
  }
}

/** 10,000 small files of distinct content in 250 folders (10 x 25), under `root`. */
function writeManyFiles(root: string): number {
  let bytes = 0;
  for (let f = 0; f < FILE_FOLDERS; f++) {
    const dir = path.join(root, `pkg${f % 10}`, `mod${Math.floor(f / 10)}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < FILES_PER_FOLDER; i++) {
      const text = `# file ${f}/${i}\nVALUE = ${f * FILES_PER_FOLDER + i}\n${'#'.repeat(100 + ((f * 7 + i * 13) % 200))}\n`;
      fs.writeFileSync(path.join(dir, `f${i}.py`), text);
      bytes += Buffer.byteLength(text);
    }
  }
  return bytes;
}

/** One fresh process of bench-workspace-client.js: what it printed. */
async function clientSide(rig: Rig, args: string[]): Promise<{ ms: number; hashed: number }> {
  const run = await runTimed(
    process.execPath,
    [path.join(__dirname, 'bench-workspace-client.js'), ...args],
    rig.env(),
    { keepStdout: true },
  );
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { ms: number; hashed: number };
}

/**
 * Puts `entries` of `root` into the service's content store, `sample` of them through the
 * store's own `put` (hashed, flushed to disk, renamed: what an upload costs it), the rest written
 * in its layout directly (no flush: setup, not measured). Resolves to ms per file of the sample.
 */
async function storeDirectly(
  store: BlobDir,
  root: string,
  entries: FileEntry[],
  sample: number,
): Promise<number | null> {
  const measured = entries.slice(0, sample);
  const start = process.hrtime.bigint();
  await mapLimit(measured, 4, (e) => store.put(path.join(root, ...e.path.split('/')), e.sha256));
  const perFile = measured.length === 0 ? null : msSince(start) / measured.length;
  for (const e of entries.slice(sample)) {
    const target = store.pathOf(e.sha256);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(root, ...e.path.split('/')), `${target}.tmp`);
    fs.chmodSync(`${target}.tmp`, 0o444);
    fs.renameSync(`${target}.tmp`, target);
  }
  return perFile;
}

/** Median of each phase of `runs`, in s. */
function phaseMedians(runs: WireRun[]): Record<keyof RunPhases, number> {
  const of = (k: keyof RunPhases): number =>
    seconds(median(runs.map((r) => r.phases?.[k] ?? Number.NaN)));
  return {
    to_created: of('to_created'),
    queued: of('queued'),
    worker: of('worker'),
    after: of('after'),
  };
}

/** The `workspace-files` case. */
export async function workspaceFiles(bin: string): Promise<Record<string, unknown>> {
  const rig = await Rig.start(bin);
  try {
    const big = path.join(rig.base, 'files');
    const tiny = path.join(rig.base, 'tiny');
    const fileBytes = writeManyFiles(big);
    const nbText = JSON.stringify(
      notebook(['import os\nprint("seen", os.path.exists("pkg9/mod24/f39.py"))']),
    );
    put(big, 'probe.ipynb', nbText);
    put(tiny, 'probe.ipynb', nbText);
    const bigNb = path.join(big, 'probe.ipynb');
    const tinyNb = path.join(tiny, 'probe.ipynb');

    // Cold: nothing in the hash cache, nothing on the service. The client PUTs each new file
    // on its own, and the service's rate limit (per token) may refuse the run part way.
    const cold = await rig.run(bigNb, big, true);
    const coldOk = cold.code === 0 && cold.stdout.includes('seen True');
    const store = new BlobDir(path.join(rig.serve.home, ARTIFACTS_DIR));
    const scanned = await scanWorkspace(big, { cacheDir: rig.cacheDir });
    const unsent = scanned.manifest.entries.filter(
      (e): e is FileEntry => e.type === 'file' && !store.has(e.sha256),
    );
    // What the cold run left unsent goes into the service's store directly.
    if (!store.has(scanned.digest)) {
      await store.put(Readable.from([Buffer.from(canonicalManifestJson(scanned.manifest))]));
    }
    const putMsPerFile = await storeDirectly(store, big, unsent, PUT_SAMPLE);
    // A cold hash cache on a service that has the content: the client's hashing on top.
    fs.rmSync(rig.cacheDir, { recursive: true, force: true });
    fs.mkdirSync(rig.cacheDir);
    await pause(RATE_LIMIT_REFILL_MS);
    const coldCache = await rig.run(bigNb, big);
    expectOutput(coldCache, 'seen True', 'cold hash cache run');
    await pause();
    // Warm-up of the tiny workspace, excluded like the cold runs.
    expectOutput(await rig.run(tinyNb, tiny), 'seen False', 'tiny warm-up');
    await pause();

    const runs: { tiny: WireRun[]; files: WireRun[] } = { tiny: [], files: [] };
    for (let i = 0; i < repeat; i++) {
      const t = await rig.run(tinyNb, tiny);
      expectOutput(t, 'seen False', 'tiny run');
      runs.tiny.push(t);
      await pause();
      const f = await rig.run(bigNb, big);
      expectOutput(f, 'seen True', '10,000-file run');
      runs.files.push(f);
      await pause();
    }

    // The client side alone, each in a fresh process, as the CLI has it.
    const client = { send_tiny: [] as number[], send_files: [] as number[] };
    const scan = { tiny: [] as number[], files: [] as number[] };
    let hashedWarm = 0;
    for (let i = 0; i < repeat; i++) {
      client.send_tiny.push((await clientSide(rig, ['send', tinyNb, tiny, rig.proxy.url])).ms);
      const sent = await clientSide(rig, ['send', bigNb, big, rig.proxy.url]);
      client.send_files.push(sent.ms);
      hashedWarm = Math.max(hashedWarm, sent.hashed);
      scan.tiny.push((await clientSide(rig, ['scan', tiny])).ms);
      scan.files.push((await clientSide(rig, ['scan', big])).ms);
    }

    // The service's side: its own code on its own content store, timed in this process.
    const request = { manifest: scanned.digest };
    const content = localContent(store);
    const service = { check: [] as number[], copy: [] as number[], outputs: [] as number[] };
    const remove: number[] = [];
    const trees = new WorkspaceTrees(path.join(rig.base, 'trees'));
    for (let i = 0; i < repeat; i++) {
      let t = process.hrtime.bigint();
      checkWorkspace(request, store);
      service.check.push(msSince(t));
      const dest = fs.mkdtempSync(path.join(rig.base, 'copy-'));
      t = process.hrtime.bigint();
      // A worker keeps the copy of a job's last run: the first checkout writes every file, the
      // next ones sync the kept tree (what the service's workers do since kept trees landed).
      const copy = await checkoutWorkspace(request, { trees, key: 'bench' }, content);
      service.copy.push(msSince(t));
      t = process.hrtime.bigint();
      const outputs = await workspaceOutputs(copy, request, content, new Masker([]));
      service.outputs.push(msSince(t));
      if (outputs.outputs.length > 0) {
        throw new Error(`an untouched copy reported ${outputs.outputs.length} outputs`);
      }
      await releaseWorkspace(copy);
      t = process.hrtime.bigint();
      fs.rmSync(dest, { recursive: true, force: true });
      remove.push(msSince(t));
      await pause();
    }
    await trees.close();

    const runMs = (which: WireRun[]): number[] => which.map((r) => r.ms);
    const addedMs = median(runMs(runs.files)) - median(runMs(runs.tiny));
    const clientAddedMs = median(client.send_files) - median(client.send_tiny);
    const scanAddedMs = median(scan.files) - median(scan.tiny);
    const phasesTiny = phaseMedians(runs.tiny);
    const phasesFiles = phaseMedians(runs.files);
    const round = (ms: number): number => Math.round(ms);
    return {
      case: 'workspace-files',
      description: `unchanged ${FILE_FOLDERS * FILES_PER_FOLDER}-file workspace (${FILE_FOLDERS} folders) vs only the notebook, nbstage run --server, warm hash cache`,
      repeat,
      files: scanned.files,
      file_mib: mib(fileBytes),
      cold_first_run: {
        ok: coldOk,
        exit: cold.code,
        ...(coldOk ? {} : { error: lastLine(cold.stderr) }),
        s: seconds(cold.ms),
        up_bytes: cold.wire.up,
        down_bytes: cold.wire.down,
        files_stored: scanned.files - unsent.length,
      },
      ...(unsent.length === 0
        ? {}
        : {
            stored_by_the_bench: {
              files: unsent.length,
              store_put_ms_per_file: putMsPerFile === null ? null : round(putMsPerFile * 10) / 10,
            },
          }),
      cold_hash_cache_run: {
        s: seconds(coldCache.ms),
        up_bytes: coldCache.wire.up,
        client_said: coldCache.said,
      },
      median_s: {
        tiny: seconds(median(runMs(runs.tiny))),
        files: seconds(median(runMs(runs.files))),
      },
      min_s: {
        tiny: seconds(Math.min(...runMs(runs.tiny))),
        files: seconds(Math.min(...runMs(runs.files))),
      },
      ratio_vs_tiny: ratio(median(runMs(runs.files)), median(runMs(runs.tiny))),
      added_s: seconds(addedMs),
      up_bytes_median: {
        tiny: median(runs.tiny.map((r) => r.wire.up)),
        files: median(runs.files.map((r) => r.wire.up)),
      },
      healthz_max_ms: {
        tiny: round(Math.max(...runs.tiny.map((r) => r.healthzMaxMs))),
        files: round(Math.max(...runs.files.map((r) => r.healthzMaxMs))),
      },
      phases_median_s: { tiny: phasesTiny, files: phasesFiles },
      client_added_s: {
        total: seconds(clientAddedMs),
        scan: seconds(scanAddedMs),
        manifest_and_missing_check: seconds(clientAddedMs - scanAddedMs),
        files_hashed_warm: hashedWarm,
      },
      service_in_process_ms_median: {
        check_before_queue: round(median(service.check)),
        worker_first_copy: round(service.copy[0] ?? 0),
        worker_kept_copy_sync: round(median(service.copy.slice(1))),
        worker_outputs_walk: round(median(service.outputs)),
        worker_remove_copy: round(median(remove)),
      },
      target_added_s: ADDED_TARGET_MS / 1000,
      meets_target: addedMs <= ADDED_TARGET_MS,
    };
  } finally {
    await rig.close();
  }
}
