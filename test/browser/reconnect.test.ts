// Reconnecting one side at a time in a real browser (Debian's Chromium, playwright-core) against `npm start`'s own
// stack: after Disconnect, QuickBooks alone does not make the connection Connected, the card offers Reconnect
// HighLevel, and HighLevel's choose-location page brings it back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDemoProcess, type DemoProcess } from '../support/demoProcess.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

describe('reconnecting one side in the browser', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)` }, () => {
  let demo: DemoProcess;
  let browser: Browser;
  let page: Page;
  const scriptErrors: string[] = [];

  before(async () => {
    demo = await startDemoProcess({ timeoutMs: 180_000 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(demo.url);
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Connections' }).waitFor();
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it('after Disconnect and a QuickBooks reconnect, says HighLevel is missing and Reconnect HighLevel makes it Connected', async () => {
    await page.getByRole('link', { name: 'Sunrise Studio' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sunrise Studio' }).waitFor();
    await page.locator('.integration .badge.connected').waitFor();
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.locator('.integration .badge.disconnected').waitFor();
    // Both sides lost their tokens: the card offers both reconnects.
    await page.getByRole('button', { name: 'Reconnect HighLevel' }).waitFor();
    await page.getByRole('button', { name: 'Reconnect QuickBooks' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
    await page.getByLabel(/Sunrise Studio LLC/).check();
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.url));

    // Not green, not Connected: the notice and the badge name HighLevel, and the card offers only its reconnect.
    const notice = page.locator('#notice .notice');
    await notice.waitFor();
    assert.match(await notice.innerText(), /HighLevel/);
    assert.equal(await page.locator('#notice .notice.ok').count(), 0, 'no green notice while HighLevel is missing');
    assert.equal(await page.locator('.integration .badge').first().innerText(), 'Needs HighLevel reconnect');
    assert.equal(await page.locator('.integration .badge.connected').count(), 0);
    assert.equal(await page.getByRole('button', { name: /Connect QuickBooks|Reconnect QuickBooks/ }).count(), 0);
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('heading', { level: 1, name: 'Connections' }).waitFor();
    await page.locator('ul.cards .card', { hasText: 'Sunrise Studio' }).locator('.badge', { hasText: 'Needs HighLevel reconnect' }).waitFor();
    await page.getByRole('link', { name: 'Sunrise Studio' }).click();

    await page.getByRole('button', { name: 'Reconnect HighLevel' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.highlevelUrl));
    await page.getByRole('link', { name: 'Sunrise Studio (US)' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.url));
    await page.locator('#notice .notice.ok', { hasText: 'Sunrise Studio is connected again' }).waitFor();
    await page.locator('.integration .badge.connected').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Reconnect HighLevel' }).count(), 0);
  });

  it('the page threw no error', () => {
    assert.deepEqual(scriptErrors, []);
  });
});
