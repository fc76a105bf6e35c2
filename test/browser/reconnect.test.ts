// Reconnecting one side at a time in a real browser (Debian's Chromium, playwright-core) against `npm start`'s own
// stack: after Disconnect, QuickBooks alone does not make the connection Connected, the card offers Reconnect
// HighLevel, and HighLevel's choose-location page brings it back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { openDashboard, withChromium, type DashboardSession } from '../support/browserSession.ts';
import type { DemoProcess } from '../support/demoProcess.ts';

describe('reconnecting one side in the browser', withChromium, () => {
  let session: DashboardSession | undefined;
  let demo: DemoProcess;
  let page: Page;
  let scriptErrors: string[] = [];

  before(async () => {
    session = await openDashboard({ acceptDialogs: true });
    ({ demo, page, scriptErrors } = session);
  });

  after(async () => {
    await session?.close();
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
    // The notice's code shows at once, its particulars (which side is missing) a request later.
    const notice = page.locator('#notice .notice', { hasText: 'HighLevel' });
    await notice.waitFor();
    assert.match(await notice.innerText(), /HighLevel/);
    assert.equal(await page.locator('#notice .notice.ok').count(), 0, 'no green notice while HighLevel is missing');
    assert.equal(await page.locator('.integration .badge').first().innerText(), 'Needs HighLevel reconnect');
    assert.equal(await page.locator('.integration .badge.connected').count(), 0);
    assert.equal(await page.getByRole('button', { name: /Connect QuickBooks|Reconnect QuickBooks/ }).count(), 0);
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('heading', { level: 1, name: 'Connections' }).waitFor();
    await page
      .locator('ul.cards .card', { hasText: 'Sunrise Studio' })
      .locator('.badge', { hasText: 'Needs HighLevel reconnect' })
      .waitFor();
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
