/**
 * The service's credentials from files (`NBSTAGE_ADMIN_TOKEN_FILE`, as container secrets are
 * mounted): the token works, and neither it nor the file's name reaches a kernel, even one
 * outside any sandbox that reads every /proc/<pid>/environ it can (what it finds is printed
 * reversed, so masking cannot hide a leak). Both variable and file set is a clear error.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Notebook } from '../../../pipelines/notebook/model';
import { cellText, cleanupDirs, makeNotebook, tempDir } from '../../helpers/notebooks';
import { startServeProcess, type ServeProcess } from '../../helpers/serve-process';
import { bearer } from './service-fixture';

describe('nbstage serve with NBSTAGE_ADMIN_TOKEN_FILE', () => {
  const admin = `file-${randomUUID()}`;
  let serve: ServeProcess;
  let tokenFile: string;
  beforeAll(async () => {
    tokenFile = path.join(tempDir(), 'admin-token');
    fs.writeFileSync(tokenFile, `${admin}\n`, { mode: 0o600 });
    serve = await startServeProcess(tempDir(), 'unused', ['--workers', '1', '--sandbox', 'off'], {
      NBSTAGE_ADMIN_TOKEN: '',
      NBSTAGE_ADMIN_TOKEN_FILE: tokenFile,
    });
  }, 60_000);
  afterAll(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    cleanupDirs();
  });

  it("accepts the file's token; no kernel finds it in any environment it can read", async () => {
    const cell = [
      'import os',
      'hits = []',
      'for pid in os.listdir("/proc"):',
      '    try:',
      '        data = open(f"/proc/{pid}/environ", "rb").read()',
      '    except OSError:',
      '        continue',
      `    if ${JSON.stringify(admin)}.encode() in data:`,
      '        hits.append(pid)',
      'print("hits", len(hits))',
      'print("own", [k for k in os.environ if k.startswith("NBSTAGE_ADMIN")])',
    ].join('\n');
    const res = await request(serve.url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(admin))
      .send({ notebook: makeNotebook([cell]) });
    expect(res.status).toBe(201);
    let text = '';
    for (let i = 0; i < 300 && text === ''; i++) {
      const run = await request(serve.url)
        .get(`/api/v1/runs/${res.body.id as string}`)
        .set('Authorization', bearer(admin));
      if (run.body.finishedAt !== null) {
        const nb = await request(serve.url)
          .get(`/api/v1/runs/${res.body.id as string}/notebook`)
          .set('Authorization', bearer(admin));
        text = cellText(nb.body as Notebook, 0);
      } else {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(text).toContain('hits 0');
    expect(text).toContain('own []');
  });

  it('refuses both NBSTAGE_ADMIN_TOKEN and NBSTAGE_ADMIN_TOKEN_FILE, naming them', async () => {
    const failed = await startServeProcess(tempDir(), admin, ['--workers', '0'], {
      NBSTAGE_ADMIN_TOKEN_FILE: tokenFile,
    }).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(failed?.message).toContain(
      'set NBSTAGE_ADMIN_TOKEN or NBSTAGE_ADMIN_TOKEN_FILE, not both',
    );
  });
});
