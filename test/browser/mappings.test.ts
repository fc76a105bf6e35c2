// The mappings screen in a real browser (Debian's Chromium driven by playwright-core) against `npm start`'s own stack:
// the pickers read from the QuickBooks company, the products from the HighLevel location, the search narrows both,
// class and location are offered only once the company tracks them, the screen says a change applies to records
// written from then on, it is used with the keyboard alone, and nothing scrolls sideways at 390 px.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openDashboard, withChromium, type DashboardSession } from '../support/browserSession.ts';

describe('mappings screen in the browser', withChromium, () => {
  let session: DashboardSession;

  before(async () => {
    session = await openDashboard();
  });

  after(async () => {
    await session?.close();
  });

  const openMappings = async () => {
    const { page, demo } = session;
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('link', { name: 'Sunrise Studio' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sunrise Studio' }).waitFor();
    await page.getByRole('link', { name: 'Mappings', exact: true }).click();
    // The screen reads the company's lists from QuickBooks first: allow a slow machine its time.
    await page.getByRole('heading', { level: 2, name: 'Mappings' }).waitFor({ timeout: 60_000 });
  };

  it('lists what to choose from, and says a change applies to records written from then on', async () => {
    const { page } = session;
    await openMappings();
    await page.getByText(/applies to records written from then on/).waitFor();
    assert.equal(
      await page.getByLabel('Sales receipts deposit to').locator('option').first().innerText(),
      "Undeposited Funds (QuickBooks' default)",
    );
    assert.match(
      await page.getByLabel('Income account for items ledgerlink creates').locator('option').first().innerText(),
      /^Automatic/,
    );
    await page.getByText(/Class tracking is off in this QuickBooks company/).waitFor();
    await page.getByText(/Location tracking is off in this QuickBooks company/).waitFor();
    assert.equal(await page.getByLabel('Class', { exact: true }).count(), 0, 'no class picker while tracking is off');
    for (const product of ['Photo session', 'Print package', 'Brand shoot (half day)'])
      await page.getByRole('row', { name: new RegExp(product.replace(/[()]/g, '\\$&')) }).waitFor();
    await page.getByLabel('QuickBooks payment method for Visa').waitFor();
  });

  it('maps with the keyboard alone: a deposit account, a product found by search, saved with Enter', async () => {
    const { page } = session;
    await openMappings();
    const deposit = page.getByLabel('Sales receipts deposit to');
    await deposit.focus();
    await page.keyboard.press('ArrowDown');
    const chosenDeposit = await deposit.evaluate((el: HTMLSelectElement) => el.selectedOptions[0]!.text);
    assert.notEqual(chosenDeposit, "Undeposited Funds (QuickBooks' default)");

    const search = page.getByLabel('Find products and items by name');
    await search.focus();
    await page.keyboard.type('print');
    await page.keyboard.press('Enter');
    await page.getByText(/1 of 1 CRM products shown/).waitFor();
    assert.equal(await page.getByRole('row', { name: /Photo session/ }).count(), 0, 'the search narrows the products');
    const item = page.getByLabel('QuickBooks item for Print package');
    await item.focus();
    await item.selectOption({ label: 'Print package' });

    await page.getByRole('button', { name: 'Save the mappings' }).focus();
    await page.keyboard.press('Enter');
    await page.getByText(/Saved 2 changes: they apply to records written from now on/).waitFor();

    await openMappings();
    assert.equal(
      await page
        .getByLabel('Sales receipts deposit to')
        .evaluate((el: HTMLSelectElement) => el.selectedOptions[0]!.text),
      chosenDeposit,
    );
    assert.equal(
      await page
        .getByLabel('QuickBooks item for Print package')
        .evaluate((el: HTMLSelectElement) => el.selectedOptions[0]!.text),
      'Print package',
    );
    await page.getByText(/Last changed/).waitFor();
    await page.getByRole('link', { name: 'Activity', exact: true }).click();
    await page
      .getByText(/Mappings changed by admin, for records written from now on/)
      .first()
      .waitFor();
  });

  it('offers class and location once the company tracks them', async () => {
    const { page, demo } = session;
    const cards = (await page.evaluate(() => fetch('/api/connections').then((r) => r.json()))) as {
      connections: Array<{ name: string; quickbooks: { realmId: string } | null }>;
    };
    const realmId = cards.connections.find((c) => c.name === 'Sunrise Studio')!.quickbooks!.realmId;
    const patched = await fetch(`${demo.quickbooksUrl}/_emulator/companies/${realmId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ classTrackingPerTxn: true, trackDepartments: true }),
    });
    assert.equal(patched.status, 200);
    await openMappings();
    await page.getByLabel('Class', { exact: true }).waitFor();
    await page.getByLabel('Location', { exact: true }).waitFor();
    assert.equal(await page.getByText(/tracking is off/).count(), 0);
  });

  it('fits a 390 px wide phone without sideways scrolling', async () => {
    const { page } = session;
    await page.setViewportSize({ width: 390, height: 844 });
    await openMappings();
    await page.getByRole('row', { name: /Print package/ }).waitFor();
    const scrollWidth = await page.evaluate(() => document.scrollingElement!.scrollWidth);
    assert.ok(scrollWidth <= 390, `scrollWidth ${scrollWidth}`);
  });

  it('threw no script error', () => {
    assert.deepEqual(session.scriptErrors, []);
  });
});
