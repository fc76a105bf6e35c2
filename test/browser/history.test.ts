// History from a chosen date in a real browser (Debian's Chromium driven by playwright-core) against `npm start`'s own
// stack: Harbor Yoga took payments and sent an invoice in the CRM before connecting its books; once connected, a day
// is chosen on the card, the dry run lists what would be written (and nothing is), Start brings it over, and the
// progress bar on the card reaches its end. With LEDGERLINK_SCREENSHOTS set, the two pictures of the docs are
// written (docs/screenshots/20-history-dry-run.png, 21-history-progress.png).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openDashboard, withChromium, type DashboardSession } from '../support/browserSession.ts';

const screenshots = new URL('../../docs/screenshots/', import.meta.url).pathname;

describe('history from a date in the browser', withChromium, () => {
  let session: DashboardSession;
  let connectionId = '';

  before(async () => {
    session = await openDashboard({ acceptDialogs: true });
  });

  after(async () => {
    await session?.close();
  });

  const shot = async (name: string) => {
    if (!process.env.LEDGERLINK_SCREENSHOTS) return;
    await session.page.waitForTimeout(300);
    // The card alone: the activity below it grows with every record and says nothing of the backfill's screen.
    await session.page.locator('.card.integration').screenshot({ path: `${screenshots}${name}.png` });
  };

  it('connects a business whose CRM already took payments and sent an invoice', async () => {
    const { page, demo } = session;
    const cards = (await page.evaluate(() => fetch('/api/connections').then((r) => r.json()))) as {
      connections: Array<{ name: string; highlevel: { locationId: string } | null }>;
    };
    const locationId = cards.connections.find((c) => c.name === 'Harbor Yoga')!.highlevel!.locationId;
    const hlAdmin = async (path: string, body: unknown) => {
      const response = await fetch(`${demo.highlevelUrl}/_emulator${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200, await response.clone().text());
    };
    for (const [first, amount] of [
      ['Maya', 18],
      ['Omar', 120],
      ['Lena', 64.5],
    ] as const)
      await hlAdmin(`/locations/${locationId}/actions/order-form-payment`, {
        contact: { firstName: first, lastName: 'Student', email: `${first.toLowerCase()}@example.com` },
        items: [{ name: 'Class pass', amount }],
        card: { brand: 'visa', last4: '4242' },
      });
    await hlAdmin(`/locations/${locationId}/actions/invoice`, {
      contact: { firstName: 'Studio', lastName: 'Rental', email: 'rental@example.com' },
      items: [{ name: 'Room rental', amount: 250 }],
      send: true,
    });

    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('link', { name: 'Harbor Yoga' }).click();
    await page.getByRole('heading', { level: 1, name: 'Harbor Yoga' }).waitFor();
    await page.getByLabel('Also bring history from (optional)').waitFor();
    await page.getByRole('button', { name: 'Connect QuickBooks' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
    await page.getByLabel(/Harbor Yoga LLC/).check();
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.url));
    await page.getByText('Harbor Yoga is connected').waitFor();
    connectionId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
    await page.getByText(/Only CRM payments and invoices made since the connection/).waitFor();
  });

  it('shows a dry run of a chosen day, writing nothing', async () => {
    const { page, demo } = session;
    const today = new Date().toISOString().slice(0, 10);
    await page.getByLabel('Bring history from').fill(today);
    await page.getByRole('button', { name: 'Dry run' }).click();
    const result = page.locator('#history-dry-run-result');
    await result.waitFor();
    assert.match(
      await result.innerText(),
      /would write 3 payments \(\$202\.50\) as sales receipts, and 1 sent invoice \(\$250\.00\) as QuickBooks invoices/,
    );
    for (const name of ['Maya Student', 'Omar Student', 'Lena Student'])
      await result.getByRole('row', { name: new RegExp(name) }).waitFor();
    // Nothing written: the card counts no sales receipt and no invoice yet.
    const card = (await (await page.request.get(`${demo.url}/api/connections/${connectionId}`)).json()) as {
      counts: Record<string, number>;
    };
    assert.equal(card.counts.salesReceipt ?? 0, 0);
    assert.equal(card.counts.invoice ?? 0, 0);
    await shot('20-history-dry-run');
    // On a phone the dry run fits the width: nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await result.waitFor();
    const scrollWidth = await page.evaluate(() => document.scrollingElement!.scrollWidth);
    assert.ok(scrollWidth <= 390, `scrollWidth ${scrollWidth}`);
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it('starts the backfill; its progress bar on the card reaches the end', async () => {
    const { page } = session;
    await page.getByRole('button', { name: 'Start' }).click();
    // The notice of the click; the activity entry of the same words may already be listed below.
    await page.locator('.notice', { hasText: /Bringing history from .* into QuickBooks/ }).waitFor();
    const bar = page.locator('#history progress');
    await bar.waitFor();
    await page.getByText(/: finished on /).waitFor({ timeout: 120_000 });
    assert.equal(await bar.getAttribute('value'), '4');
    assert.equal(await bar.getAttribute('max'), '4');
    await page.getByText('History backfill: 4 of 4').waitFor();
    assert.match(
      await page.locator('#history-run').innerText(),
      /3 payments and 1 invoice written, 0 skipped, 0 failed\./,
    );
    await page.getByText(/CRM payments and sent invoices are synced from \d{4}-\d{2}-\d{2}/).waitFor();
    await shot('21-history-progress');
  });

  it('threw no script error', () => {
    assert.deepEqual(session.scriptErrors, []);
  });
});
