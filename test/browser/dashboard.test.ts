// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against `npm start`'s own
// stack: both emulators with demo data and ledgerlink, in a child process on free ports.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, withChromium } from '../support/browserSession.ts';
import { startDemoProcess, type DemoProcess } from '../support/demoProcess.ts';

describe('dashboard in the browser', withChromium, () => {
  let demo: DemoProcess;
  let browser: Browser;
  let page: Page;
  const external: string[] = [];
  const scriptErrors: string[] = [];

  before(async () => {
    // One after the other: a browser launched beside a demo that failed to start would keep the test alive.
    demo = await startDemoProcess({ timeoutMs: 180_000 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    // No request may leave for another host than ledgerlink and the two emulators (no CDN, no fonts).
    const allowed = [demo.url, demo.quickbooksUrl, demo.highlevelUrl].map((u) => new URL(u).host);
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol.startsWith('http') && !allowed.includes(url.host)) external.push(request.url());
    });
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const openConnection = async (name: string) => {
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
  };

  it('refuses a wrong password and logs in with the right one', async () => {
    await page.goto(demo.url);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Wrong user name or password').waitFor();
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Connections' }).waitFor();
    for (const name of ['Sunrise Studio', 'Maple Leaf Consulting', 'Harbor Yoga'])
      await page.getByRole('link', { name }).waitFor();
  });

  it("refuses another connection's company chosen on the consent page, naming that connection, and changes nothing", async () => {
    await openConnection('Harbor Yoga');
    await page.getByRole('button', { name: 'Connect QuickBooks' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
    assert.equal(
      await page.locator('input[name="realmId"]:checked').count(),
      0,
      'the consent page chooses no company in advance',
    );
    // Sending the form without a choice: the browser asks for one and stays on the page.
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    assert.ok(page.url().startsWith(demo.quickbooksUrl));
    await page.getByLabel(/Sunrise Studio LLC/).check();
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'This QuickBooks company is already connected' }).waitFor();
    await page
      .getByText(/already connected to Sunrise Studio/)
      .first()
      .waitFor();
    await page
      .getByText(/Nothing was changed/)
      .first()
      .waitFor();
    await page.getByRole('link', { name: 'Back to Harbor Yoga' }).click();
    await page.getByRole('heading', { level: 1, name: 'Harbor Yoga' }).waitFor();
    await page.getByText('Waiting for QuickBooks').first().waitFor();
    await openConnection('Sunrise Studio');
    await page.locator('.integration .badge.connected').waitFor();
  });

  it('connects QuickBooks through the consent page with the toggles chosen first, then changes a toggle', async () => {
    await openConnection('Harbor Yoga');
    await page.getByText('Waiting for QuickBooks').first().waitFor();
    await page.getByLabel(/Import old invoices/).check();
    await page.getByRole('button', { name: 'Connect QuickBooks' }).click();
    // Intuit's consent page, as the QuickBooks emulator renders it: pick the company, allow.
    await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
    await page.getByLabel(/Harbor Yoga LLC/).check();
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.url));
    await page.getByText('Harbor Yoga is connected').waitFor();
    await page.locator('.integration .badge.connected').waitFor();
    assert.equal(await page.getByLabel('Import old invoices').isChecked(), true);
    assert.equal(await page.getByLabel('Send review requests').isChecked(), false);

    await page.getByLabel('Send review requests').check();
    await page.getByText('Send review requests: on').waitFor();
    const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
    const card = (await (await page.request.get(`${demo.url}/api/connections/${id}`)).json()) as {
      status: string;
      reviewRequests: boolean;
      importOldInvoices: boolean;
      quickbooks: { realmId: string } | null;
    };
    assert.equal(card.status, 'connected');
    assert.equal(card.reviewRequests, true);
    assert.equal(card.importOldInvoices, true);
    assert.ok(card.quickbooks?.realmId);
  });

  it('reconnecting to another company asks first and switches only once confirmed', async () => {
    await openConnection('Harbor Yoga');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.locator('.integration .badge.disconnected').waitFor();
    await page.getByRole('button', { name: 'Connect QuickBooks' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
    await page.getByLabel('A new CA sandbox company').check();
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Switch Harbor Yoga to another QuickBooks company?' }).waitFor();
    await page.getByText(/set aside: kept, but no longer followed/).waitFor();
    // Keeping the company changes nothing.
    await page.getByRole('button', { name: 'Keep Harbor Yoga LLC' }).click();
    await page.getByText(/Harbor Yoga was not changed: it stays with Harbor Yoga LLC/).waitFor();
    await page.locator('.integration .badge.disconnected').waitFor();
    // Asked again, and confirmed: a real browser's form post passes the same-origin check.
    await page.getByRole('button', { name: 'Connect QuickBooks' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
    await page.getByLabel('A new CA sandbox company').check();
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.getByRole('button', { name: /^Switch to / }).click();
    await page.getByText(/Harbor Yoga is now connected to/).waitFor();
    // Disconnect forgot the HighLevel tokens too: the new company is attached, and the card asks for HighLevel.
    await page.locator('.integration .badge.revoked', { hasText: 'Needs HighLevel reconnect' }).waitFor();
    await page.getByRole('button', { name: 'Reconnect HighLevel' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.highlevelUrl));
    await page.getByRole('link', { name: 'Harbor Yoga (US)' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.url));
    await page.locator('.integration .badge.connected').waitFor();
    const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
    const card = (await (await page.request.get(`${demo.url}/api/connections/${id}`)).json()) as {
      quickbooks: { country: string };
    };
    assert.equal(card.quickbooks.country, 'CA');
  });

  it("adds a connection through HighLevel's choose-location page", async () => {
    // A sub-account the agency has just created, as HighLevel's admin would.
    const created = await fetch(`${demo.highlevelUrl}/_emulator/locations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ country: 'US', name: 'Corner Bakery' }),
    });
    assert.equal(created.status < 300, true);
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('button', { name: /Add a connection/ }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.highlevelUrl));
    await page.getByRole('link', { name: 'Corner Bakery (US)' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.url));
    await page.getByText('Corner Bakery is installed: connect its QuickBooks company next').waitFor();
    await page.getByRole('heading', { level: 1, name: 'Corner Bakery' }).waitFor();
    await page.getByRole('button', { name: 'Connect QuickBooks' }).waitFor();
  });

  it('takes a payment in the sandbox and shows the receipt in the activity list and on the QuickBooks side', async () => {
    await openConnection('Sunrise Studio');
    await page.getByRole('link', { name: 'Sandbox' }).click();
    const form = page.getByRole('form', { name: 'Take a payment' });
    await form.getByLabel('Email').fill('ada.browser@example.com');
    await form.getByLabel('Price 1').fill('249.50');
    await form.getByRole('button', { name: 'Take the payment' }).click();
    await page
      .getByRole('status')
      .getByText(/paid 249.5/)
      .first()
      .waitFor();

    await page.getByRole('link', { name: 'Activity' }).click();
    const entry = page.locator('.entry.ok', { hasText: /Created sales receipt .* 249\.50 USD/ });
    await entry.waitFor({ timeout: 30_000 });
    await page.locator('.record-group', { has: entry }).getByRole('link', { name: 'As QuickBooks holds it' }).click();
    await page.getByRole('heading', { level: 1, name: /QuickBooks SalesReceipt/ }).waitFor();
    const record = JSON.parse(await page.getByLabel('Record').innerText()) as { TotalAmt: number };
    assert.equal(record.TotalAmt, 249.5);
  });

  it('shows an error with what to do, is fixed in the tax code mapping, and Retry syncs it', async () => {
    await openConnection('Maple Leaf Consulting');
    await page.getByRole('link', { name: 'Sandbox' }).click();
    const form = page.getByRole('form', { name: 'Take a payment' });
    await form.getByLabel('Email').fill('atlantic@example.ca');
    await form.getByLabel('Tax name (optional)').fill('HST');
    await form.getByLabel('Tax rate % (optional)').fill('15');
    await form.getByRole('button', { name: 'Take the payment' }).click();
    // 120.00 and 15 % HST: the customer paid 138.
    await page
      .getByRole('status')
      .getByText(/paid 138/)
      .first()
      .waitFor();

    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByLabel('Status').selectOption('error');
    const error = page.locator('.entry.error', { hasText: 'HST' }).first();
    await error.waitFor({ timeout: 30_000 });
    assert.match(await error.locator('.fix').innerText(), /What to do: .*dashboard/);

    await page.getByRole('link', { name: 'Tax codes' }).click();
    // The page reads the company's tax codes from QuickBooks first: allow a slow machine its time.
    await page.getByLabel('QuickBooks tax code for HST 15%').waitFor({ timeout: 60_000 });
    await page.getByLabel('QuickBooks tax code for HST 15%').selectOption({ label: 'HST NS (15%)' });
    await page.getByRole('button', { name: 'Save the mapping' }).click();
    await page.getByText(/Saved 1 mapping/).waitFor();

    await page.getByRole('link', { name: 'Activity' }).click();
    await page.locator('.entry.error', { hasText: 'HST' }).first().getByRole('button', { name: 'Retry' }).click();
    // Retry re-runs the job; should the poller have synced the payment a moment before, the error is already resolved.
    await page.getByText(/Retrying: the job runs again|Not retried: Only an open error/).waitFor();
    await page.getByLabel('Status').selectOption('ok');
    await page.locator('.entry.ok', { hasText: /Created sales receipt .* CAD/ }).waitFor({ timeout: 30_000 });
    await page.getByLabel('Open errors only').check();
    await page.getByLabel('Status').selectOption('');
    await page.getByText('Nothing matches.').waitFor();
  });

  it('reads the reconciliation', async () => {
    await openConnection('Sunrise Studio');
    await page.getByRole('link', { name: 'Reconciliation' }).click();
    const row = page.getByRole('row', { name: /Sales receipts/ });
    await row.waitFor({ timeout: 30_000 });
    const matched = Number(await row.getByRole('cell').first().innerText());
    assert.ok(matched >= 1, `sales receipts matched: ${matched}`);
    await page.getByRole('row', { name: /Customers/ }).waitFor();
  });

  it('made no request to another host, and the page threw no error', () => {
    assert.deepEqual(external, []);
    assert.deepEqual(scriptErrors, []);
  });
});
