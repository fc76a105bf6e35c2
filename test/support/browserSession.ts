// The dashboard in a real browser: Debian's Chromium driven by playwright-core, against `npm start`'s own stack
// (both emulators with demo data and ledgerlink, in a child process on free ports), logged in as the demo's admin.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDemoProcess, type DemoProcess } from './demoProcess.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** The options of a browser suite's describe: skipped, saying why, where the machine has no Chromium. */
export const withChromium = {
  skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`,
};

export interface DashboardSession {
  demo: DemoProcess;
  browser: Browser;
  page: Page;
  /** Errors the page's scripts threw: a suite ends by asserting there were none. */
  scriptErrors: string[];
  close(): Promise<void>;
}

/** Starts the demo stack, opens the dashboard in Chromium and logs in; `close` ends both. */
export async function openDashboard(
  options: { env?: Record<string, string>; acceptDialogs?: boolean } = {},
): Promise<DashboardSession> {
  // One after the other: a browser launched beside a demo that failed to start would keep the test alive.
  const demo = await startDemoProcess({ timeoutMs: 180_000, ...(options.env ? { env: options.env } : {}) });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    const scriptErrors: string[] = [];
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    if (options.acceptDialogs) page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(demo.url);
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Connections' }).waitFor();
    const opened = browser;
    return {
      demo,
      browser: opened,
      page,
      scriptErrors,
      close: async () => {
        await opened.close();
        await demo.stop();
      },
    };
  } catch (error) {
    await browser?.close();
    await demo.stop();
    throw error;
  }
}
