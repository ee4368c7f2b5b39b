/**
 * Headless Chromium for end-to-end tests: Debian's `chromium` (found on the PATH) driven by
 * playwright-core, one browser per test file, and page screenshots saved where the README links
 * them (`docs/screenshots/`).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where screenshots go (committed; the README shows them). */
export const SCREENSHOT_DIR = path.resolve(__dirname, '../../docs/screenshots');

/** The Chromium binary on the PATH (`which chromium`); throws with a hint when there is none. */
export function chromiumPath(): string {
  const found = spawnSync('which', ['chromium'], { encoding: 'utf8' });
  const binary = found.stdout.trim();
  if (found.status !== 0 || binary === '') {
    throw new Error('no chromium on the PATH: install Debian\'s "chromium" package');
  }
  return binary;
}

/**
 * Launches one headless Chromium for the test file in beforeAll and closes it in afterAll; the
 * returned function gives it to the tests. `--no-sandbox` because the tests may run as root.
 */
export function useBrowser(): () => Browser {
  let browser: Browser | null = null;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (browser === null) {
      throw new Error('the browser did not start');
    }
    return browser;
  };
}

/** An element, as far as the tests read it inside the browser. */
export interface BrowserElement {
  getAttribute(name: string): string | null;
}

/**
 * The few browser globals tests read in functions that run inside a page (the project compiles
 * without the DOM library): `(globalThis as unknown as BrowserWindow).document.cookie`.
 */
export interface BrowserWindow {
  origin: string;
  requestAnimationFrame(callback: () => void): number;
  document: {
    cookie: string;
    readyState: string;
    body: BrowserElement;
    documentElement: { scrollHeight: number };
    querySelector(selector: string): BrowserElement | null;
  };
  /** What a test (or a hostile output) put on the window. */
  [name: string]: unknown;
}

/** Resolves after the next two animation frames of the document it runs in. */
function twoFrames(): Promise<void> {
  const win = globalThis as unknown as BrowserWindow;
  return new Promise<void>((resolve) => {
    win.requestAnimationFrame(() => win.requestAnimationFrame(() => resolve()));
  });
}

/**
 * Waits until every frame of the page has painted. Frames of another origin (the sandboxed
 * output frames) render in a process of their own, which paints only what is in view.
 */
export async function painted(page: Page): Promise<void> {
  await Promise.all(page.frames().map((frame) => frame.evaluate(twoFrames)));
}

/**
 * Saves a screenshot of the whole page as `docs/screenshots/<name>.png`. The viewport is made as
 * tall as the page first (then put back): Chromium's full-page capture leaves out the content of
 * out-of-process frames below the fold, and those frames paint only what is in view.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const viewport = page.viewportSize() ?? { width: 1280, height: 900 };
  const height = await page.evaluate(
    () => (globalThis as unknown as BrowserWindow).document.documentElement.scrollHeight,
  );
  await page.setViewportSize({ width: viewport.width, height: Math.max(height, viewport.height) });
  try {
    await painted(page);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
  } finally {
    await page.setViewportSize(viewport);
  }
}
