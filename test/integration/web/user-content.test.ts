/**
 * User content never scripts the service's origin, in headless Chromium against a real service:
 * a run's SVG output holds a script that would mark its document and create a run as whoever
 * opens it. An admin logged in to the web page who follows a link to it from a version page
 * (the red team's path) downloads it; rendered under its own headers without the attachment,
 * it stays a picture in a sandbox, and the script never runs. A control without those headers
 * shows the script is real: there, it does create the run. The HTML report still loads its
 * stylesheet and images, the SVG among them, under Jenkins' policy.
 */
import { randomUUID } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import type { ServiceRun } from '../../../server/runs/service-run';
import { makeNotebook } from '../../helpers/notebooks';
import { useBrowser } from '../../helpers/browser';
import { bearer, jobPath, useService } from '../service/service-fixture';
import { RED_PNG, createRun, untilVersioned } from './web-fixture';

/** The job the SVG's script would create a run in, with the URL's fragment as a suffix. */
const PWNED = `test-pwned-${randomUUID()}`;

/** An SVG whose script marks its document, then creates a run with the opener's cookie. */
const HOSTILE_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">' +
  '<rect width="24" height="24" fill="#1f77b4"/>' +
  '<script>' +
  'document.documentElement.setAttribute("data-ran", "1");' +
  'fetch("/api/v1/runs", { method: "POST", credentials: "same-origin", headers: ' +
  '{ "Content-Type": "application/json", "X-Nbstage-Request": "1" }, body: JSON.stringify({ ' +
  `job: "${PWNED}-" + (location.hash.slice(1) || "direct"), notebook: { nbformat: 4, ` +
  'nbformat_minor: 5, metadata: {}, cells: [{ cell_type: "code", id: "x", metadata: {}, ' +
  'source: "1", outputs: [], execution_count: null }] } }) });' +
  '</script></svg>';

/** What the tests read inside a page (the project compiles without the DOM library). */
interface PageGlobals {
  origin: string;
  document: {
    documentElement: { localName: string; getAttribute(name: string): string | null };
    styleSheets: { length: number; [index: number]: { cssRules: { length: number } } };
    images: { length: number; [index: number]: { naturalWidth: number; src: string } };
  };
}

describe('user content in Chromium', () => {
  const svc = useService();
  const browser = useBrowser();
  let context: BrowserContext;
  let page: Page;
  let run: ServiceRun;
  let svgUrl: string;
  const job = `test-${randomUUID()}`;

  const runsOf = async (name: string): Promise<ServiceRun[]> => {
    const res = await fetch(`${svc().url}/api/v1/runs?job=${encodeURIComponent(name)}`, {
      headers: { Authorization: bearer(svc().admin) },
    });
    return (await res.json()) as ServiceRun[];
  };

  beforeAll(async () => {
    run = await createRun(svc().url, svc().run, {
      notebook: makeNotebook([
        'from IPython.display import display\n' +
          `display({"image/svg+xml": ${JSON.stringify(HOSTILE_SVG)}}, raw=True)`,
        `import base64\nfrom IPython.display import Image, display\ndisplay(Image(data=base64.b64decode("${RED_PNG}")))`,
        'import os\n' +
          'with open(os.path.join(os.environ["NBSTAGE_ARTIFACTS"], "page.html"), "w") as f:\n' +
          `    f.write(${JSON.stringify(HOSTILE_SVG)})`,
      ]),
      notebookName: 'plots.ipynb',
      job,
      build: '1',
    });
    expect((await untilVersioned(svc().url, svc().run, run.id)).state).toBe('completed');
    const html = await (
      await fetch(`${svc().url}/api/v1/runs/${run.id}/html`, {
        headers: { Authorization: bearer(svc().read) },
      })
    ).text();
    const svgFile = /src="(report_files\/[^"]+\.svg)"/.exec(html)?.[1];
    if (svgFile === undefined) {
      throw new Error('the report shows no SVG');
    }
    svgUrl = `${svc().url}/api/v1/runs/${run.id}/${svgFile}`;
    // The next build links to the SVG from a markdown cell, as the red team's notebook did.
    const linked = await createRun(svc().url, svc().run, {
      notebook: makeNotebook([{ type: 'markdown', source: `See [the plot](${svgUrl}).` }, '1']),
      job,
      build: '2',
    });
    expect((await untilVersioned(svc().url, svc().run, linked.id)).state).toBe('completed');

    context = await browser().newContext({ acceptDownloads: true });
    page = await context.newPage();
    await page.goto(`${svc().url}/login`);
    await page.fill('#token', svc().admin);
    await Promise.all([page.waitForURL(`${svc().url}/`), page.click('button[type=submit]')]);
  });

  afterAll(async () => {
    await context?.close();
  });

  it('serves report files and artifacts as sandboxed, unsniffed user content', async () => {
    const res = await fetch(svgUrl, { headers: { Authorization: bearer(svc().read) } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="?cell\S+\.svg"?$/,
    );
    for (const route of ['artifacts/page.html', 'notebook']) {
      const other = await fetch(`${svc().url}/api/v1/runs/${run.id}/${route}`, {
        headers: { Authorization: bearer(svc().read) },
      });
      expect([route, other.status]).toEqual([route, 200]);
      expect(other.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(other.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const report = await fetch(`${svc().url}/api/v1/runs/${run.id}/html`, {
      headers: { Authorization: bearer(svc().read) },
    });
    expect(report.headers.get('x-content-type-options')).toBe('nosniff');
    expect(report.headers.get('content-security-policy')).toBe(
      "sandbox allow-same-origin; default-src 'none'; img-src 'self'; style-src 'self';",
    );
  });

  it('loads the report with its stylesheet and images under Jenkins’ policy', async () => {
    await page.goto(`${svc().url}/api/v1/runs/${run.id}/html`);
    const loaded = await page.evaluate(() => {
      const doc = (globalThis as unknown as PageGlobals).document;
      const images: { src: string; width: number }[] = [];
      for (let i = 0; i < doc.images.length; i++) {
        images.push({ src: doc.images[i].src, width: doc.images[i].naturalWidth });
      }
      return { sheets: doc.styleSheets.length, rules: doc.styleSheets[0]?.cssRules.length, images };
    });
    expect(loaded.sheets).toBe(1);
    expect(loaded.rules).toBeGreaterThan(10);
    expect(loaded.images.map((i) => [i.src.replace(/.*\./, ''), i.width])).toEqual([
      ['svg', 24],
      ['png', 4],
    ]);
  });

  it('downloads the SVG a version page links to instead of running it', async () => {
    await page.goto(`${svc().url}/jobs/${jobPath(job)}/builds/2`);
    const link = page.locator('a', { hasText: 'the plot' });
    expect(await link.getAttribute('href')).toBe(svgUrl);
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(/\.svg$/);
    expect(await download.failure()).toBeNull();
    expect(new URL(page.url()).pathname).toBe(`/jobs/${jobPath(job)}/builds/2`);
    expect(await runsOf(`${PWNED}-direct`)).toEqual([]);
  });

  /** What a test sees of a document opened in Chromium. */
  interface Opened {
    /** The root element's name (`svg` when the SVG rendered). */
    root: string;
    /** What the SVG's script would have set, or null. */
    ran: string | null;
    /** The document's origin (`null` for an opaque one). */
    origin: string;
  }

  /** Opens the SVG as a document, with the service's answer less the headers named. */
  const openWithout = async (dropped: string[], fragment: string): Promise<Opened> => {
    const target = await context.newPage();
    await target.route(svgUrl, async (route) => {
      const res = await fetch(svgUrl, { headers: { Authorization: bearer(svc().read) } });
      const headers = Object.fromEntries(
        [...res.headers.entries()].filter(([name]) => !dropped.includes(name)),
      );
      await route.fulfill({ status: res.status, headers, body: await res.text() });
    });
    try {
      await target.goto(`${svgUrl}#${fragment}`);
      return await target.evaluate(() => {
        const win = globalThis as unknown as PageGlobals;
        const root = win.document.documentElement;
        return { root: root.localName, ran: root.getAttribute('data-ran'), origin: win.origin };
      });
    } finally {
      await target.close();
    }
  };

  it('renders the SVG opened directly without its attachment header as a picture whose script never runs', async () => {
    const seen = await openWithout(['content-disposition'], 'sandboxed');
    expect(seen.root).toBe('svg');
    expect(seen.ran).toBeNull();
    // The sandbox gives it an opaque origin: nothing of the service's origin is within reach.
    expect(seen.origin).toBe('null');
    expect(await runsOf(`${PWNED}-sandboxed`)).toEqual([]);
  });

  it('control: without the service’s headers the same SVG runs and creates a run as the admin', async () => {
    const seen = await openWithout(
      ['content-disposition', 'content-security-policy', 'x-content-type-options'],
      'control',
    );
    expect(seen.root).toBe('svg');
    expect(seen.ran).toBe('1');
    expect(seen.origin).toBe(new URL(svc().url).origin);
    let made: ServiceRun[] = [];
    for (let i = 0; i < 100 && made.length === 0; i++) {
      made = await runsOf(`${PWNED}-control`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(made.map((r) => r.createdBy)).toEqual(['NBSTAGE_ADMIN_TOKEN']);
    await untilVersioned(svc().url, svc().admin, made[0].id);
    // The other two never made theirs, though they had as long.
    expect(await runsOf(`${PWNED}-direct`)).toEqual([]);
    expect(await runsOf(`${PWNED}-sandboxed`)).toEqual([]);
  });
});
