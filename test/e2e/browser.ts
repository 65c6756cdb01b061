// The e2e harness: Vite's preview server on the built page (web/dist, from
// `npm run build:web`) on 127.0.0.1 at a free port, and Debian's chromium
// driven by playwright-core, with WebGPU on SwiftShader (a CPU Vulkan driver).

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SCREENSHOTS = join(ROOT, 'test', 'e2e', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader',
  '--no-sandbox', '--disable-dev-shm-usage',
];

export interface Session {
  url: string;
  browser: Browser;
  context: BrowserContext;
  /** A second browser with other flags (e.g. without WebGPU), closed with the session. */
  launch(args: string[]): Promise<BrowserContext>;
  close(): Promise<void>;
}

function launchChromium(args: string[]): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });
}

function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 1400, height: 1300 }, acceptDownloads: true });
}

/** Serves web/dist and starts chromium; throws a clear error when either is missing. */
export async function startSession(): Promise<Session> {
  if (!existsSync(join(ROOT, 'web', 'dist', 'index.html'))) throw new Error('web/dist is missing: run `npm run build:web` first');
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  const server: PreviewServer = await preview({
    configFile: join(ROOT, 'web', 'vite.config.ts'),
    logLevel: 'warn',
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('the preview server has no port');
  const url = `http://127.0.0.1:${address.port}/`;
  const browsers = [await launchChromium(CHROMIUM_FLAGS)];
  const browser = browsers[0]!;
  const context = await newContext(browser);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    url, browser, context,
    async launch(args) {
      const other = await launchChromium(args);
      browsers.push(other);
      return newContext(other);
    },
    async close() {
      for (const b of browsers) await b.close();
      await server.close();
    },
  };
}

/** Opens the page and waits until its first model is built and drawn. */
export async function openPage(session: Session, query = '', context = session.context): Promise<Page> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  pageProblems.set(page, problems);
  await page.goto(session.url + query);
  await page.waitForFunction(() => {
    const view = (window as any).katPlayground;
    return view?.model && view.activations.length > 0;
  }, null, { timeout: 120_000 });
  return page;
}

const pageProblems = new WeakMap<Page, string[]>();

/** Uncaught errors and console errors the page has shown so far. */
export function consoleErrors(page: Page): string[] {
  return pageProblems.get(page) ?? [];
}

export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** A plain-data copy of the page's `window.katPlayground` state (typed arrays become number arrays). */
export async function pageView<T>(page: Page): Promise<T> {
  const json = await page.evaluate(() => JSON.stringify((window as any).katPlayground, (_key, value) =>
    ArrayBuffer.isView(value) ? Array.from(value as unknown as number[]) : value));
  return JSON.parse(json) as T;
}

/** The playground page's state as far as a timeout message needs it. */
interface TrainingView {
  state?: string;
  steps?: unknown[];
  errors?: string[];
}

/** Waits until `predicate` (JavaScript over `v`, the page's state) holds; on a timeout, says what the page was doing. */
export async function waitForTraining(page: Page, predicate: string, timeout: number, what: string): Promise<void> {
  try {
    await page.waitForFunction(`(() => { const v = window.katPlayground; return ${predicate}; })()`, null, { timeout, polling: 200 });
  } catch (error) {
    const view = await pageView<TrainingView>(page).catch(() => null);
    throw new Error(`timed out after ${timeout / 1000} s waiting for ${what} (${predicate}); page state ${view?.state}, ` +
      `steps ${view?.steps?.length}, errors ${JSON.stringify(view?.errors)}: ${(error as Error).message.split('\n')[0]}`);
  }
}
