/**
 * The web page end to end: headless Chromium (playwright-core) against the real `nbstage serve`
 * started from the compiled CLI (bin/nbstage.js, so the assets must ship with dist/). A user is
 * sent to the login form, logs in (the cookie, a session id, is HttpOnly and SameSite=Strict,
 * invisible to scripts), opens a job (builds, one trend chart per metric), a version (markdown,
 * ANSI colours, an image, and an HTML output whose script cannot touch the page), a diff,
 * a regressed build's checks on its version and beside the last success on the diff page,
 * watches a running build fill in live over the websocket, cancels one, and logs out, which
 * ends the session for any copy of the cookie. Each page is saved as a screenshot in
 * docs/screenshots/.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { LOGIN_COOKIE } from '../../../server/auth/middleware';
import { fileTokenStore, tokensFile } from '../../../server/auth/tokens';
import { screenshot, useBrowser, type BrowserWindow } from '../../helpers/browser';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';
import { startServeProcess } from '../../helpers/serve-process';
import { jobPath, untilOutput } from '../service/service-fixture';
import {
  api,
  CHECKS_GATES,
  createRun,
  gatePath,
  gatedNotebook,
  jobName,
  seedBuilds,
  seedCheckedBuilds,
  untilVersioned,
} from './web-fixture';

describe('the web page in Chromium', () => {
  const browser = useBrowser();
  const job = jobName();
  let child: ChildProcess;
  let url: string;
  let tokens: { run: string; read: string };
  let context: BrowserContext;
  let page: Page;
  const jobUrl = (): string => `${url}/jobs/${jobPath(job)}`;

  beforeAll(async () => {
    const home = tempDir();
    const store = fileTokenStore(tokensFile(home));
    const made = async (role: 'run' | 'read'): Promise<string> =>
      (await store.create({ role, name: `test-${randomUUID()}-${role}` })).token;
    tokens = { run: await made('run'), read: await made('read') };
    ({ child, url } = await startServeProcess(home, `test-${randomUUID()}`));
    await seedBuilds(url, tokens.run, job);
    context = await browser().newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    cleanupDirs();
  });

  it('sends a visitor without a token to the login form and back after logging in', async () => {
    await page.goto(jobUrl());
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(new URL(page.url()).searchParams.get('next')).toBe(`/jobs/${jobPath(job)}`);
    await screenshot(page, 'login');

    await page.fill('#token', tokens.run);
    await Promise.all([page.waitForURL(jobUrl()), page.click('button[type=submit]')]);
    const cookie = (await context.cookies(url)).find((c) => c.name === LOGIN_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/' });
    expect(
      await page.evaluate(() => (globalThis as unknown as BrowserWindow).document.cookie),
    ).toBe('');
  });

  it('lists jobs and runs', async () => {
    await page.goto(`${url}/`);
    await page.locator('a.job-link', { hasText: job }).waitFor();
    await screenshot(page, 'jobs');
  });

  it('shows a job: its builds and one trend chart per metric', async () => {
    await page.goto(jobUrl());
    expect(await page.locator('table.builds tbody tr').count()).toBe(3);
    expect(await page.locator('svg.trend-chart').count()).toBe(2);
    const accuracy = page.locator('figure[data-metric="accuracy"] circle.dot');
    expect(await accuracy.count()).toBe(3);
    expect(await accuracy.nth(0).locator('title').textContent()).toBe('#1: 0.6');
    expect(await page.locator('table.builds a.jenkins').first().getAttribute('href')).toBe(
      'https://jenkins.example.org/job/team/job/web/3/',
    );
    await screenshot(page, 'job');
  });

  it('shows a version; its HTML output runs sandboxed and cannot touch the page', async () => {
    await Promise.all([
      page.waitForURL(`${jobUrl()}/builds/3`),
      page.click('table.builds tbody tr[data-build="3"] td:first-child a'),
    ]);
    const title = await page.title();
    await page.locator('.markdown h1', { hasText: 'Training report' }).waitFor();
    expect(await page.locator('.ansi-red-fg').first().textContent()).toBe('red text');
    const imageWidth = await page
      .locator('.output-image img')
      .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
    expect(imageWidth).toBe(4);

    const frameElement = page.locator('iframe.output-frame');
    expect(await frameElement.getAttribute('sandbox')).toBe('allow-scripts');
    const frame = await (await frameElement.elementHandle())?.contentFrame();
    if (frame === null || frame === undefined) {
      throw new Error('no output frame');
    }
    await frame.waitForFunction(
      () => (globalThis as unknown as BrowserWindow).document.readyState === 'complete',
    );
    expect(await frame.locator('#inner').textContent()).toBe('HTML output bold');
    // The frame's own script (frame.js) reported its height: the page sized the frame.
    await page.waitForFunction(
      () =>
        (globalThis as unknown as BrowserWindow).document
          .querySelector('iframe.output-frame')
          ?.getAttribute('height') !== '60',
    );
    // The output's inline script and onerror handler never ran; had they, the page would show it.
    expect(
      await frame.evaluate(() =>
        (globalThis as unknown as BrowserWindow).document.body.getAttribute('data-ran'),
      ),
    ).toBeNull();
    expect(await frame.evaluate(() => (globalThis as unknown as BrowserWindow).origin)).toBe(
      'null',
    );
    expect(
      await frame.evaluate(() => {
        try {
          return (globalThis as unknown as BrowserWindow).document.cookie;
        } catch (e) {
          return (e as Error).name;
        }
      }),
    ).toBe('SecurityError');
    expect(await page.title()).toBe(title);
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as BrowserWindow).document.body.getAttribute('data-pwned'),
      ),
    ).toBeNull();
    expect(await page.evaluate(() => (globalThis as unknown as BrowserWindow).pwned)).toBe(
      undefined,
    );
    await screenshot(page, 'version');
  });

  it('compares two builds side by side', async () => {
    await page.goto(jobUrl());
    await page.selectOption('select[name=a]', '1');
    await page.selectOption('select[name=b]', '3');
    await Promise.all([page.waitForURL(/\/diff\?a=1&b=3$/), page.click('form.compare button')]);
    expect(await page.locator('.metric-changes tr[data-name="accuracy"]').count()).toBe(1);
    expect(await page.locator('.parameter-changes tr[data-name="lr"]').count()).toBe(1);
    const changed = page.locator('table.source-diff tr', { hasText: 'variant 1' });
    expect(await changed.locator('td.removed').textContent()).toContain('variant 1');
    expect(await changed.locator('td.added').textContent()).toContain('variant 2');
    await screenshot(page, 'diff');
  });

  it("shows a regression's checks on its version and beside the last success", async () => {
    const checked = jobName();
    const [good, regressed] = await seedCheckedBuilds(url, tokens.run, checked);
    expect([good.exitCode, regressed.exitCode]).toEqual([0, 6]);
    const base = `${url}/jobs/${jobPath(checked)}`;
    await page.goto(`${base}/builds/2`);
    await page.locator('.checks-failed h2', { hasText: 'Checks: failed' }).waitFor();
    expect(await page.locator('.check-chip.check-differs').count()).toBe(1);
    expect(await page.locator('.check-mismatch .check-diff').textContent()).toContain(
      '+actual +            151           84',
    );
    await screenshot(page, 'checks-version');
    await page.goto(`${base}/diff?a=1&b=2`);
    const gate = page.locator(`.check-changes tr[data-gate="${CHECKS_GATES[0]}"] td`);
    expect(await gate.nth(0).textContent()).toMatch(/0\.8175\s*passed/);
    expect(await gate.nth(1).textContent()).toMatch(/0\.7575\s*failed/);
    expect(await page.locator('.cell-change .check-chip.check-differs').count()).toBe(1);
    await screenshot(page, 'checks-diff');
  });

  it('shows a running build fill in live, then its stored version', async () => {
    const gate = gatePath();
    const run = await createRun(url, tokens.run, {
      notebook: gatedNotebook(),
      notebookName: 'live.ipynb',
      parameters: { gate },
      job,
      build: '4',
    });
    await untilOutput(url, tokens.read, run.id, 'first output');
    await page.goto(`${url}/runs/${run.id}`);
    await page.evaluate(() => {
      (globalThis as unknown as BrowserWindow).sameDocument = true;
    });
    await page
      .locator('.nb-cell[data-index="2"] .output-stream', { hasText: 'first output' })
      .waitFor();
    await page.locator('.nb-cell[data-index="3"][data-running]').waitFor();
    expect(await page.locator('[data-cancel]').isVisible()).toBe(true);
    expect(await page.locator('.nb-cell[data-index="3"] .outputs').count()).toBe(0);
    expect(await page.locator('.nb-cell[data-index="4"] .waiting-chip').count()).toBe(1);
    await screenshot(page, 'run-live');

    fs.writeFileSync(gate, '');
    await page
      .locator('.nb-cell[data-index="3"] .output-stream', { hasText: 'second output' })
      .waitFor();
    await page
      .locator('.nb-cell[data-index="4"] .ansi-green-fg', { hasText: 'third output' })
      .waitFor();
    await page.locator('.run-head[data-settled]').waitFor();
    expect(await page.locator('[data-state] .badge').textContent()).toBe('completed');
    expect(await page.locator('progress').getAttribute('value')).toBe('5');
    expect(await page.locator('[data-cancel]').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as BrowserWindow).sameDocument)).toBe(
      true,
    );
    await screenshot(page, 'run-done');
    await Promise.all([page.waitForURL(`${jobUrl()}/builds/4`), page.click('[data-version] a')]);
    await page.locator('.output-stream', { hasText: 'second output' }).waitFor();
  });

  it('cancels a running build from its page; a read token gets no cancel button', async () => {
    const run = await createRun(url, tokens.run, {
      notebook: gatedNotebook(),
      parameters: { gate: gatePath() },
      job,
      build: '5',
    });
    await untilOutput(url, tokens.read, run.id, 'first output');

    const reader = await browser().newContext();
    try {
      const readPage = await reader.newPage();
      await readPage.goto(`${url}/runs/${run.id}`);
      await readPage.fill('#token', tokens.read);
      await Promise.all([
        readPage.waitForURL(`${url}/runs/${run.id}`),
        readPage.click('button[type=submit]'),
      ]);
      await readPage.locator('.run-head').waitFor();
      expect(await readPage.locator('[data-cancel]').count()).toBe(0);
    } finally {
      await reader.close();
    }

    await page.goto(`${url}/runs/${run.id}`);
    await page.click('[data-cancel]');
    await page.locator('.run-head[data-settled]').waitFor();
    expect(await page.locator('[data-state] .badge').textContent()).toBe('cancelled');
    const record = await untilVersioned(url, tokens.read, run.id);
    expect(record.state).toBe('cancelled');
    const builds = await api<{ build: string; status: string }[]>(
      url,
      tokens.read,
      `/api/v1/jobs/${jobPath(job)}/builds`,
    );
    expect(builds.body.find((b) => b.build === '5')?.status).toBe('cancelled');
  });

  it('logs out: the next page asks for the token again, and a copy of the cookie is dead', async () => {
    await page.goto(`${url}/`);
    const copied = (await context.cookies(url)).find((c) => c.name === LOGIN_COOKIE);
    expect(copied?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(copied?.value).not.toContain(tokens.run);
    await Promise.all([page.waitForURL(`${url}/login`), page.click('form.logout button')]);
    expect((await context.cookies(url)).some((c) => c.name === LOGIN_COOKIE)).toBe(false);
    await page.goto(jobUrl());
    expect(new URL(page.url()).pathname).toBe('/login');

    // The session ended on the server: the cookie, put back, opens nothing.
    const thief = await browser().newContext();
    try {
      await thief.addCookies([{ name: LOGIN_COOKIE, value: copied?.value ?? '', url }]);
      const stolen = await thief.newPage();
      await stolen.goto(jobUrl());
      expect(new URL(stolen.url()).pathname).toBe('/login');
    } finally {
      await thief.close();
    }
  });
});
