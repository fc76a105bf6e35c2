// The dashboard in the user's language, in a real browser against `npm start`'s own stack: records by name with
// links into both providers' apps, activity without noise that keeps itself fresh, amounts in the connection's
// currency and locale, refused fields explained in place, and a banner the address cannot write into.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { openDashboard, withChromium, type DashboardSession } from '../support/browserSession.ts';
import type { DemoProcess } from '../support/demoProcess.ts';

const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, ' ');

describe("dashboard in the user's language", withChromium, () => {
  let session: DashboardSession | undefined;
  let demo: DemoProcess;
  let page: Page;
  let scriptErrors: string[] = [];

  before(async () => {
    session = await openDashboard();
    ({ demo, page, scriptErrors } = session);
  });

  after(async () => {
    await session?.close();
  });

  const openConnection = async (name: string, section?: string) => {
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    if (section) await page.getByRole('link', { name: section, exact: true }).click();
    return decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
  };
  const sandboxPost = (id: string, action: string, body: unknown) =>
    page.request.post(`${demo.url}/api/connections/${id}/sandbox/${action}`, { data: body });

  it('names the QuickBooks company and the HighLevel location, not their numbers', async () => {
    await page.getByText('Maple Leaf Consulting Inc. (CA, CAD)').waitFor();
    await openConnection('Sunrise Studio');
    assert.equal(await page.locator('#card-company').innerText(), 'Sunrise Studio LLC (US, USD)');
    assert.equal(await page.locator('#card-location').innerText(), 'Sunrise Studio');
    assert.doesNotMatch(await page.locator('.integration').innerText(), /realm/i);
  });

  it('groups activity by record, named as people call it, with links that open it in QuickBooks and in HighLevel', async () => {
    const id = await openConnection('Sunrise Studio', 'Sandbox');
    const form = page.getByRole('form', { name: 'Take a payment' });
    await form.getByLabel('First name').fill('Grace');
    await form.getByLabel('Last name').fill('Hopper');
    await form.getByLabel('Email').fill('grace.words@example.com');
    await form.getByLabel('Price 1').fill('194.40');
    await form.getByRole('button', { name: 'Take the payment' }).click();
    await page
      .getByRole('status')
      .getByText(/paid 194.4/)
      .first()
      .waitFor();
    await page.getByRole('link', { name: 'Activity', exact: true }).click();

    const group = page.locator('.record-group', {
      has: page.locator('.entry.ok', { hasText: /Created sales receipt .* 194\.40 USD/ }),
    });
    await group.waitFor({ timeout: 30_000 });
    const name = await group.locator('.record-name').innerText();
    assert.match(name, /^Sales receipt \d+$/);
    assert.equal(
      plain(await group.locator('.record-facts').innerText()),
      '$194.40 · Grace Hopper (grace.words@example.com)',
    );

    const inQuickBooks = await group.getByRole('link', { name: `Open ${name} in QuickBooks` }).getAttribute('href');
    assert.match(inQuickBooks!, new RegExp(`^${demo.quickbooksUrl}/app/salesreceipt\\?txnId=\\d+$`));
    const inHighLevel = await group.getByRole('link', { name: 'Open Grace Hopper in HighLevel' }).getAttribute('href');
    assert.match(inHighLevel!, new RegExp(`^${demo.highlevelUrl}/v2/location/\\w+/contacts/detail/\\w+$`));
    // The links open a new tab: the emulators show the record at the apps' own paths.
    const [qbo] = await Promise.all([
      page.waitForEvent('popup'),
      group.getByRole('link', { name: `Open ${name} in QuickBooks` }).click(),
    ]);
    await qbo.getByRole('heading', { name, exact: true }).waitFor();
    assert.match(await qbo.locator('body').innerText(), /Sunrise Studio LLC[\s\S]*Grace Hopper[\s\S]*194\.4/);
    await qbo.close();
    const [hl] = await Promise.all([
      page.waitForEvent('popup'),
      group.getByRole('link', { name: 'Open Grace Hopper in HighLevel' }).click(),
    ]);
    await hl.getByText('grace.words@example.com').waitFor();
    await hl.close();

    // The customer has its own group, by name and email.
    const customer = page.locator('.record-group', {
      has: page.getByRole('heading', { name: 'Grace Hopper', exact: true }),
    });
    assert.equal(await customer.locator('.record-facts').innerText(), 'grace.words@example.com');
    assert.ok(id);
  });

  it("folds ledgerlink's own changes coming back under a filter, off by default", async () => {
    const id = await openConnection('Sunrise Studio');
    const group = page.locator('.record-group', { has: page.locator('.entry', { hasText: /194\.40 USD/ }) });
    await group.waitFor();
    const key = await group.getAttribute('data-record');
    // QuickBooks' webhook for the receipt ledgerlink made arrives within seconds; the API lists it only when asked.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const answer = (await (
        await page.request.get(`${demo.url}/api/connections/${id}/activity?echoes=true&flow=webhooks`)
      ).json()) as { entries: Array<{ echo: boolean; record: { key: string } | null }> };
      if (answer.entries.some((e) => e.echo && e.record?.key === key)) break;
      assert.ok(Date.now() < deadline, "QuickBooks' webhook for the new receipt arrived");
      await page.waitForTimeout(500);
    }
    await page.reload();
    await group.waitFor();
    assert.equal(await page.locator('.entry.echo').count(), 0);
    await page.getByLabel("Show ledgerlink's own changes coming back").check();
    const echo = group.locator('.entry.echo', { hasText: 'SalesReceipt.Create' });
    await echo.waitFor();
    assert.match(await echo.innerText(), /ledgerlink's own change/);
    await page.getByLabel("Show ledgerlink's own changes coming back").uncheck();
    await echo.waitFor({ state: 'detached' });
  });

  it('keeps the card fresh without a reload: open errors and status, with each error listed once', async () => {
    const id = await openConnection('Maple Leaf Consulting');
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    const before = Number(await page.locator('#card-open-errors').innerText());
    // A payment whose tax has no QuickBooks code yet: an error for a person.
    const paid = await sandboxPost(id, 'take-payment', {
      firstName: 'Fresh',
      lastName: 'Card',
      email: 'fresh.card@example.ca',
      lines: [{ item: 'Audit', amount: 80 }],
      taxName: 'HST',
      taxRate: 15,
    });
    assert.equal(paid.status(), 200, await paid.text());
    await page.waitForFunction(
      (n) => Number(document.getElementById('card-open-errors')?.textContent) === n + 1,
      before,
      { timeout: 30_000 },
    );
    const error = page.locator('.record-group', { has: page.locator('.entry.error', { hasText: 'HST' }) }).last();
    await error.waitFor();
    assert.equal(await error.locator('.entry.error').count(), 1);

    assert.equal((await page.request.post(`${demo.url}/api/connections/${id}/pause`)).status(), 200);
    await page.locator('.integration .badge.paused').waitFor({ timeout: 15_000 });
    assert.equal((await page.request.post(`${demo.url}/api/connections/${id}/resume`)).status(), 200);
    await page.locator('.integration .badge.connected').waitFor({ timeout: 15_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
  });

  it("writes amounts in the connection's currency and locale", async () => {
    const formatted = await page.evaluate(async () => {
      const m = (await import('/format.js' as string)) as {
        formatMoney: (n: number, c: string, l?: string, e?: number) => string;
        localeForCountry: (c: string) => string;
      };
      return [
        m.formatMoney(19440, 'USD', m.localeForCountry('US')),
        m.formatMoney(19440, 'EUR', m.localeForCountry('FR')),
        m.formatMoney(500, 'JPY', 'ja-JP', 0),
        m.formatMoney(12000, 'GBP', m.localeForCountry('GB')),
      ];
    });
    assert.deepEqual(formatted.map(plain), ['$194.40', '194,40 €', '￥500', '£120.00']);

    const id = await openConnection('Maple Leaf Consulting', 'Sandbox');
    const sent = await sandboxPost(id, 'send-invoice', {
      firstName: 'Due',
      lastName: 'Amount',
      email: 'due.amount@example.ca',
      lines: [{ item: 'Bookkeeping', amount: 194.4 }],
    });
    assert.equal(sent.status(), 200, await sent.text());
    await page.getByRole('link', { name: 'Activity', exact: true }).click();
    const invoice = page.locator('.record-group', {
      has: page.locator('.entry.ok', { hasText: /Created QuickBooks invoice .*Due Amount/ }),
    });
    await invoice.waitFor({ timeout: 30_000 });
    assert.match(
      plain(await invoice.locator('.record-facts').innerText()),
      /^\$194\.40 due · Due Amount \(due\.amount@example\.ca\)$/,
    );
    await page.getByRole('link', { name: 'Sandbox', exact: true }).click();
    await page
      .getByLabel('Open invoice')
      .locator('option', { hasText: /Due Amount, \$194\.40 due/ })
      .waitFor({ state: 'attached' });
  });

  it("shows a refused field's problem in plain words next to it", async () => {
    await openConnection('Sunrise Studio', 'Sandbox');
    const form = page.getByRole('form', { name: 'Take a payment' });
    await form.getByLabel('Price 1').fill('0');
    await form.getByRole('button', { name: 'Take the payment' }).click();
    const amountError = form.locator('#pay-amount-1-error');
    await amountError.waitFor();
    assert.equal(await amountError.innerText(), 'Enter an amount above 0');
    assert.equal(await form.getByLabel('Price 1').getAttribute('aria-invalid'), 'true');
    assert.equal(await form.getByLabel('Price 1').getAttribute('aria-describedby'), 'pay-amount-1-error');
    assert.match(await page.locator('#notice').innerText(), /Some fields need a change/);
    assert.doesNotMatch(await page.locator('main').innerText(), /Too small|body\.amount/);

    const invoice = page.getByRole('form', { name: 'Send an invoice' });
    await invoice.getByLabel('Email').fill('alan@localhost');
    await invoice.getByRole('button', { name: 'Send the invoice' }).click();
    await invoice.locator('#inv-email-error', { hasText: 'Enter an email address, like name@example.com' }).waitFor();
    // Corrected and sent again, the marks go.
    await invoice.getByLabel('Email').fill('alan.words@example.com');
    await invoice.getByRole('button', { name: 'Send the invoice' }).click();
    await page
      .getByRole('status')
      .getByText(/Invoice .* was sent to/)
      .first()
      .waitFor();
    assert.equal(await invoice.locator('.field-error').count(), 0);
  });

  it('puts no text from the address in the banner', async () => {
    await page.goto(
      `${demo.url}/?notice=${encodeURIComponent('Your session expired: call 555-0100 to unlock')}&kind=error#/connections`,
    );
    await page.getByRole('heading', { level: 1, name: 'Connections' }).waitFor();
    assert.equal(await page.locator('#notice').innerText(), '');
    assert.doesNotMatch(await page.locator('body').innerText(), /555-0100/);
    assert.equal(new URL(page.url()).search, '', 'the notice leaves the address');

    // A known code shows its own fixed sentence, nothing else from the address.
    await page.goto(
      `${demo.url}/?notice=quickbooks-connected&text=${encodeURIComponent('call 555-0100')}#/connections`,
    );
    await page.getByRole('heading', { level: 1, name: 'Connections' }).waitFor();
    await page.locator('#notice .notice').waitFor();
    assert.equal(
      await page.locator('#notice .notice').innerText(),
      'QuickBooks is connected: new records sync from now on. Dismiss',
    );
    assert.doesNotMatch(await page.locator('body').innerText(), /555-0100/);

    // Nor in the page: an unknown connection in the address is not repeated back.
    await page.goto(`${demo.url}/#/connections/${encodeURIComponent('Call 555-0100 now')}`);
    await page.getByRole('heading', { level: 1, name: 'Not found' }).waitFor();
    assert.doesNotMatch(await page.locator('body').innerText(), /555-0100/);
  });

  it('threw no error in the page', () => {
    assert.deepEqual(scriptErrors, []);
  });
});
