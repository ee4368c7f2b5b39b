/**
 * The output-flood case of `npm run bench`: a real `nbstage serve` process, one cell printing as
 * fast as it can until the run's timeout stops it. Samples the service's resident memory
 * (/proc/<pid>/status VmRSS) and the latency of /healthz every 100 ms during the run, then its
 * RSS when idle, the sizes of the run's events file and executed notebook, and what one visit to
 * the run's page costs. Figures only: nothing here is asserted.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { NbstageClient } from '../client/api-client';
import { startServe } from './bench-serve';

const SAMPLE_MS = 100;
const MB = 1024 * 1024;

function rssBytes(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb === null ? 0 : Number(kb[1]) * 1024;
  } catch {
    return 0;
  }
}

/** GET `url`; resolves to [ms, bytes] (ms = Infinity when it took longer than `timeoutMs`). */
function timedGet(url: string, token: string | null, timeoutMs: number): Promise<[number, number]> {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = http.get(
      url,
      { headers: token === null ? {} : { authorization: `Bearer ${token}` } },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => {
          bytes += d.length;
        });
        res.on('end', () => resolve([Number(process.hrtime.bigint() - start) / 1e6, bytes]));
      },
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve([Number.POSITIVE_INFINITY, 0]);
    });
    req.on('error', () => resolve([Number.POSITIVE_INFINITY, 0]));
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0
    ? 0
    : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

/** Runs the flood case against `bin` (a build's bin/nbstage.js); resolves to its figures. */
export async function flood(bin: string): Promise<Record<string, unknown>> {
  const timeoutS = Number(process.env.BENCH_FLOOD_TIMEOUT_S ?? 25);
  const serve = await startServe(bin);
  const { url, token, pid, home } = serve;
  try {
    const client = new NbstageClient(url, token);
    const startRss = rssBytes(pid);
    const notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      cells: [
        {
          cell_type: 'code',
          id: 'flood',
          metadata: {},
          execution_count: null,
          outputs: [],
          // Flushed each time: an unflushed busy loop starves ipykernel's output thread.
          source:
            'import sys\nblock = ("x" * 99 + "\\n") * 100\nwhile True:\n    sys.stdout.write(block)\n    sys.stdout.flush()',
        },
      ],
    };
    const run = await client.createRun({
      notebook,
      notebookName: 'flood.ipynb',
      job: 'bench/flood',
      timeout: timeoutS,
    });
    const rss: number[] = [];
    const healthz: number[] = [];
    let state = run.state as string;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const tick = Date.now();
        rss.push(rssBytes(pid));
        healthz.push((await timedGet(`${url}/healthz`, null, 30_000))[0]);
        await new Promise((r) => setTimeout(r, Math.max(0, SAMPLE_MS - (Date.now() - tick))));
      }
    })();
    const started = Date.now();
    while (
      !['completed', 'failed', 'timeout', 'kernel_died', 'cancelled', 'error'].includes(state)
    ) {
      await new Promise((r) => setTimeout(r, 500));
      state = (await client.getRun(run.id)).state;
      if (Date.now() - started > (timeoutS + 240) * 1000) {
        throw new Error(`the flood run did not end (state ${state})`);
      }
    }
    const runMs = Date.now() - started;
    // The record is complete (artifacts, version) once the run is versioned.
    let final = await client.getRun(run.id);
    while (final.version === null && Date.now() - started < (timeoutS + 240) * 1000) {
      await new Promise((r) => setTimeout(r, 200));
      final = await client.getRun(run.id);
    }
    sampling = false;
    await sampler;
    await new Promise((r) => setTimeout(r, 5000));
    const idleAfterRun = rssBytes(pid);
    const [pageMs, pageBytes] = await timedGet(`${url}/runs/${run.id}`, token, 120_000);
    await new Promise((r) => setTimeout(r, 5000));
    const idleAfterPage = rssBytes(pid);
    const size = (file: string): number => (fs.existsSync(file) ? fs.statSync(file).size : 0);
    const dir = path.join(home, 'runs', run.id);
    const fullOutput = (final.artifacts ?? []).filter((a) => a.name.startsWith('nbstage-output/'));
    return {
      case: 'flood',
      description: `one cell printing as fast as it can under timeout: ${timeoutS} through nbstage serve`,
      state: final.state,
      run_s: round(runMs / 1000),
      rss_mb: {
        start: round(startRss / MB),
        peak: round(Math.max(...rss) / MB),
        idle_after_run: round(idleAfterRun / MB),
        idle_after_page: round(idleAfterPage / MB),
      },
      healthz_ms: {
        samples: healthz.length,
        median: round(median(healthz)),
        p95: round(percentile(healthz, 0.95)),
        over_100ms: healthz.filter((ms) => ms > 100).length,
        max: round(Math.max(...healthz)),
      },
      events_file_mb: round(size(path.join(dir, 'events.jsonl')) / MB),
      notebook_mb: round(size(path.join(dir, 'executed.ipynb')) / MB),
      run_page: { mb: round(pageBytes / MB, 2), ms: round(pageMs) },
      full_output_artifact_mb: round(fullOutput.reduce((n, a) => n + a.size, 0) / MB, 2),
    };
  } finally {
    await serve.close();
  }
}
