/**
 * `nbstage doctor` against the real machine: a missing interpreter, the project's .venv (when
 * scripts/setup.sh made it), a stand-in nvidia-smi on PATH, and a real HTTP server for NBSTAGE_URL.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { venvPython } from '../../../kernels/python-env';
import type { DoctorCheck, DoctorReport } from '../../../cli/doctor-report';
import { runDoctor } from '../../../cli/doctor';

/** process.env without the variables doctor reads, plus `extra`. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NBSTAGE_PYTHON;
  delete env.NBSTAGE_URL;
  delete env.NBSTAGE_TOKEN;
  return { ...env, ...extra };
}

async function doctor(
  env: NodeJS.ProcessEnv,
  json = false,
): Promise<{ code: number; output: string }> {
  let output = '';
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      output += chunk.toString();
      callback();
    },
  });
  const code = await runDoctor({ stdout, json, env });
  return { code, output };
}

async function doctorJson(env: NodeJS.ProcessEnv): Promise<{ code: number; report: DoctorReport }> {
  const { code, output } = await doctor(env, true);
  return { code, report: JSON.parse(output) as DoctorReport };
}

function check(report: DoctorReport, name: string): DoctorCheck {
  const found = report.checks.find((c) => c.name === name);
  if (found === undefined) {
    throw new Error(`no check named ${name} in ${report.checks.map((c) => c.name).join(', ')}`);
  }
  return found;
}

const missingPython = path.join(os.tmpdir(), `test-${randomUUID()}`, 'bin', 'python');

describe('nbstage doctor', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `test-${randomUUID()}-`));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('exits 2 and says how to fix a NBSTAGE_PYTHON that does not exist', async () => {
    const { code, output } = await doctor(cleanEnv({ NBSTAGE_PYTHON: missingPython }));
    expect(code).toBe(2);
    expect(output).toContain(`✗ python`);
    expect(output).toContain(`${missingPython}: not found (from NBSTAGE_PYTHON)`);
    expect(output).toMatch(/fix: point NBSTAGE_PYTHON at a working python/);
    expect(output).toMatch(/✓ node\s+\d+\.\d+\.\d+/);
    expect(output).toMatch(/required items are missing/);
  });

  it('prints one JSON object with --json', async () => {
    const { code, report } = await doctorJson(cleanEnv({ NBSTAGE_PYTHON: missingPython }));
    expect(code).toBe(2);
    expect(report.ok).toBe(false);
    expect(report.python).toEqual({ path: missingPython, source: 'env', version: null });
    expect(check(report, 'python')).toMatchObject({ status: 'missing' });
    expect(check(report, 'python').fix).toContain('NBSTAGE_PYTHON');
    expect(check(report, 'jupyter_server').status).toBe('missing');
    expect(check(report, 'kernelspecs').status).toBe('missing');
    expect(check(report, 'node').status).toBe('ok');
  });

  const realPython = venvPython();
  (fs.existsSync(realPython) ? it : it.skip)(
    'finds the Jupyter packages and kernelspecs of the .venv (scripts/setup.sh)',
    async () => {
      const { code, report } = await doctorJson(cleanEnv({ NBSTAGE_PYTHON: realPython }));
      expect(report.python.source).toBe('env');
      expect(report.python.version).toMatch(/^3\.\d+\.\d+$/);
      for (const name of ['python', 'jupyter_server', 'ipykernel', 'bash_kernel', 'nbformat']) {
        expect(check(report, name).status).toBe('ok');
      }
      expect(check(report, 'jupyter_server').value).toMatch(/^2\./);
      expect(check(report, 'kernelspecs').status).toBe('ok');
      const names = report.kernelspecs.map((spec) => spec.name);
      expect(names).toEqual(expect.arrayContaining(['python3', 'bash']));
      expect(report.kernelspecs.find((spec) => spec.name === 'bash')?.language).toBe('bash');
      expect(code).toBe(report.ok ? 0 : 2);
    },
  );

  it('lists the GPUs nvidia-smi reports, and says none without it', async () => {
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    const fake = path.join(bin, 'nvidia-smi');
    fs.writeFileSync(
      fake,
      '#!/bin/sh\necho "NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB"\necho "NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB"\n',
    );
    fs.chmodSync(fake, 0o755);
    const withGpus = await doctorJson(
      cleanEnv({
        NBSTAGE_PYTHON: missingPython,
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
      }),
    );
    expect(withGpus.report.gpus).toEqual([
      { name: 'NVIDIA H100 80GB HBM3', driver: '550.54.15', memory: '81559 MiB' },
      { name: 'NVIDIA H100 80GB HBM3', driver: '550.54.15', memory: '81559 MiB' },
    ]);
    expect(check(withGpus.report, 'gpu')).toMatchObject({ status: 'ok' });

    // A PATH with no nvidia-smi at all: no GPU is not an error.
    const without = await doctorJson(
      cleanEnv({ NBSTAGE_PYTHON: missingPython, PATH: bin + '-none' }),
    );
    expect(without.report.gpus).toEqual([]);
    expect(check(without.report, 'gpu')).toEqual({
      name: 'gpu',
      status: 'optional',
      value: 'none',
    });
  });

  describe('NBSTAGE_URL', () => {
    let server: http.Server;
    let url: string;
    beforeEach(async () => {
      server = http.createServer((req, res) => {
        res.statusCode = req.url === '/healthz' ? 200 : 404;
        res.end('{"status":"ok"}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterEach(async () => {
      if (server.listening) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('reaches /healthz and never prints the token', async () => {
      const token = `test-${randomUUID()}`;
      const env = cleanEnv({
        NBSTAGE_PYTHON: missingPython,
        NBSTAGE_URL: `${url}/`,
        NBSTAGE_TOKEN: token,
      });
      const { output } = await doctor(env);
      expect(output).toMatch(/✓ NBSTAGE_URL\s+http:\/\/127\.0\.0\.1:\d+ \(healthz: HTTP 200\)/);
      expect(output).toMatch(/✓ NBSTAGE_TOKEN\s+set \(not shown\)/);
      expect(output).not.toContain(token);
      const { report } = await doctorJson(env);
      expect(JSON.stringify(report)).not.toContain(token);
    });

    it('gives up on a service that does not answer after 2 s', async () => {
      server.removeAllListeners('request');
      server.on('request', () => {
        // never answers
      });
      const started = Date.now();
      const { report } = await doctorJson(
        cleanEnv({ NBSTAGE_PYTHON: missingPython, NBSTAGE_URL: url }),
      );
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(check(report, 'NBSTAGE_URL').value).toBe(
        `cannot reach ${url}/healthz: no answer within 2 s`,
      );
      server.closeAllConnections();
    });

    it('says when the service cannot be reached, within the 2 s timeout', async () => {
      await new Promise<void>((resolve) => server.close(() => resolve())); // nothing on that port now
      const started = Date.now();
      const { code, report } = await doctorJson(
        cleanEnv({ NBSTAGE_PYTHON: missingPython, NBSTAGE_URL: url }),
      );
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(code).toBe(2);
      expect(check(report, 'NBSTAGE_URL')).toMatchObject({ status: 'missing' });
      expect(check(report, 'NBSTAGE_URL').value).toContain(`cannot reach ${url}/healthz`);
      expect(check(report, 'NBSTAGE_TOKEN').status).toBe('optional');
    });
  });
});
