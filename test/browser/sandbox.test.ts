// Every sandbox action in a real browser (Debian's Chromium driven by playwright-core) against `npm start`'s own
// stack, each followed to QuickBooks: what the record became there is read through the QuickBooks emulator's
// Accounting API, as a bookkeeper's tool would read it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { openDashboard, withChromium, type DashboardSession } from '../support/browserSession.ts';
import type { DemoProcess } from '../support/demoProcess.ts';

type Entity = Record<string, unknown> & {
  Id: string;
  TotalAmt: number;
  Balance?: number;
  DocNumber?: string;
  Line: Array<Record<string, unknown>>;
};

describe('sandbox in the browser', withChromium, () => {
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

  /** Opens the connection's sandbox; answers its QuickBooks realm. */
  const openSandbox = async (name: string): Promise<string> => {
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    await page.getByRole('link', { name: 'Sandbox' }).click();
    await page.getByRole('heading', { level: 2, name: 'Sandbox' }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
    const card = (await (await page.request.get(`${demo.url}/api/connections/${id}`)).json()) as {
      quickbooks: { realmId: string };
    };
    return card.quickbooks.realmId;
  };

  const quickbooks = async (realmId: string, query: string, entity: string): Promise<Entity[]> => {
    const token = (await (
      await fetch(`${demo.quickbooksUrl}/_emulator/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ realmId }),
      })
    ).json()) as { access_token: string };
    const response = await fetch(
      `${demo.quickbooksUrl}/v3/company/${realmId}/query?${new URLSearchParams({ query, minorversion: '75' })}`,
      {
        headers: { authorization: `Bearer ${token.access_token}`, accept: 'application/json' },
      },
    );
    assert.equal(response.status, 200, await response.clone().text());
    const answer = (await response.json()) as { QueryResponse: Record<string, Entity[]> };
    return answer.QueryResponse[entity] ?? [];
  };

  /** Polls QuickBooks until `find` answers something (the sync runs on webhooks, within seconds). */
  const inQuickBooks = async <T>(what: string, find: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`${what} did not reach QuickBooks in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const salesLines = (e: Entity) => e.Line.filter((l) => l.DetailType === 'SalesItemLineDetail');
  const cents = (n: number) => Math.round(n * 100);

  it('takes an order-form payment of several lines with a coupon, a subscription, a membership and a calendar booking; each becomes a QuickBooks sales receipt', async () => {
    const realmId = await openSandbox('Sunrise Studio');
    const form = page.getByRole('form', { name: 'Take a payment' });
    const pay = async (kind: string, email: string, lines: Array<[string, string, string]>, discount?: string) => {
      await form.getByLabel('Kind of payment').selectOption({ label: kind });
      await form.getByLabel('Email').fill(email);
      for (const [n, [item, qty, amount]] of lines.entries()) {
        await form.getByLabel(`Item ${n + 1}`).fill(item);
        if (qty) await form.getByLabel(`Qty ${n + 1}`).fill(qty);
        await form.getByLabel(`Price ${n + 1}`).fill(amount);
      }
      if (discount) await form.getByLabel(/Coupon discount/).fill(discount);
      await form.getByRole('button', { name: 'Take the payment' }).click();
      await page
        .getByRole('status')
        .getByText(new RegExp(`paid .*${kind.split(' ')[0]!.toLowerCase()}`))
        .first()
        .waitFor();
    };
    // 2 × 35.25 + 12.00 − 5.00 coupon = 77.50
    await pay(
      'Order form (several lines, a coupon)',
      'order.form@example.com',
      [
        ['Yoga mat', '2', '35.25'],
        ['Water bottle', '1', '12.00'],
      ],
      '5.00',
    );
    // The other kinds show one line, no quantity, no coupon.
    await form.getByLabel('Kind of payment').selectOption({ label: 'Subscription (first monthly charge)' });
    assert.equal(await form.getByLabel('Item 2').isVisible(), false);
    assert.equal(await form.getByLabel('Qty 1').isVisible(), false);
    assert.equal(await form.getByLabel(/Coupon discount/).isVisible(), false);
    await pay('Subscription (first monthly charge)', 'subscriber@example.com', [['Monthly class pass', '', '89.10']]);
    await pay('Membership', 'member@example.com', [['Gold membership', '', '240.30']]);
    await pay('Calendar booking (appointment)', 'booking@example.com', [['Private session', '', '75.40']]);

    const expected: Array<[string, number, string[]]> = [
      ['order form', 77.5, ['Yoga mat', 'Water bottle']],
      ['subscription', 89.1, ['Monthly class pass']],
      ['membership', 240.3, ['Gold membership']],
      ['calendar booking', 75.4, ['Private session']],
    ];
    for (const [kind, total, items] of expected) {
      const receipt = await inQuickBooks(`the ${kind}'s sales receipt`, async () =>
        (await quickbooks(realmId, 'SELECT * FROM SalesReceipt MAXRESULTS 1000', 'SalesReceipt')).find(
          (r) => cents(r.TotalAmt) === cents(total),
        ),
      );
      const names = salesLines(receipt).map((l) =>
        String((l.SalesItemLineDetail as { ItemRef?: { name?: string } }).ItemRef?.name ?? l.Description ?? ''),
      );
      for (const item of items)
        assert.ok(
          names.some((n) => n.includes(item)),
          `${kind}: ${item} among ${names.join(', ')}`,
        );
    }
    const order = (await quickbooks(realmId, 'SELECT * FROM SalesReceipt MAXRESULTS 1000', 'SalesReceipt')).find(
      (r) => cents(r.TotalAmt) === 7750,
    )!;
    const mat = salesLines(order).find((l) =>
      String((l.SalesItemLineDetail as { ItemRef?: { name?: string } }).ItemRef?.name).includes('Yoga mat'),
    )!;
    assert.equal((mat.SalesItemLineDetail as { Qty?: number }).Qty, 2);
  });

  it('sends an invoice of three lines with a discount and tax, pays part of it in the CRM, which reaches QuickBooks as a linked payment, and part in QuickBooks', async () => {
    const realmId = await openSandbox('Maple Leaf Consulting');
    const form = page.getByRole('form', { name: 'Send an invoice' });
    await form.getByLabel('Email').fill('several.lines@example.ca');
    // The defaults: 2 × 450.00, 3 × 25.00, 1 × 80.00, 10 % off, GST 5 %.
    await form.getByRole('button', { name: 'Send the invoice' }).click();
    const sent = await page
      .getByRole('status')
      .getByText(/Invoice \S+ for [0-9.]+ \(3 lines\)/)
      .first()
      .innerText();
    const [, number, totalText] = /Invoice (\S+) for ([0-9.]+)/.exec(sent)!;
    const total = Number(totalText);
    // (900 + 75 + 80) less 10 % = 949.50, and 5 % GST on that.
    assert.equal(cents(total), 94950 + Math.round(94950 * 0.05));

    const invoice = await inQuickBooks('the invoice', async () =>
      (await quickbooks(realmId, 'SELECT * FROM Invoice MAXRESULTS 1000', 'Invoice')).find(
        (i) => String(i.DocNumber ?? '').includes(number!) && cents(i.TotalAmt) === cents(total),
      ),
    );
    assert.equal(salesLines(invoice).length, 3);

    // A part payment in the CRM.
    const crm = page.getByRole('form', { name: 'Record a payment of a CRM invoice' });
    const crmOption = crm.getByLabel('Sent invoice').locator('option', { hasText: `No. ${number} —` });
    await crmOption.waitFor({ state: 'attached' });
    await crm.getByLabel('Sent invoice').selectOption((await crmOption.getAttribute('value'))!);
    await crm.getByLabel(/^Amount/).fill('200.00');
    await crm.getByRole('button', { name: 'Record the payment in the CRM' }).click();
    await page
      .getByRole('status')
      .getByText(new RegExp(`CRM invoice ${number}: 200 paid, [0-9.]+ still due`))
      .first()
      .waitFor();
    await inQuickBooks('the CRM part payment', async () => {
      const [now] = await quickbooks(realmId, `SELECT * FROM Invoice WHERE Id = '${invoice.Id}'`, 'Invoice');
      return now && cents(now.Balance ?? 0) === cents(total) - 20000 ? now : undefined;
    });
    const payments = await quickbooks(realmId, 'SELECT * FROM Payment MAXRESULTS 1000', 'Payment');
    assert.ok(
      payments.some((p) => cents(p.TotalAmt) === 20000 && JSON.stringify(p.Line).includes(`"TxnId":"${invoice.Id}"`)),
      'a QuickBooks payment of 200.00 linked to the invoice',
    );

    // A part payment as the bookkeeper records it in QuickBooks: it is recorded on the CRM invoice too.
    const books = page.getByRole('form', { name: 'Record a payment of a QuickBooks invoice' });
    await page.reload();
    await books
      .getByLabel('Open invoice')
      .locator('option', { hasText: `No. ${invoice.DocNumber} —` })
      .waitFor({ state: 'attached' });
    const option = await books
      .getByLabel('Open invoice')
      .locator('option', { hasText: `No. ${invoice.DocNumber} —` })
      .getAttribute('value');
    await books.getByLabel('Open invoice').selectOption(option!);
    await books.getByLabel(/^Amount/).fill('100.00');
    await books.getByRole('button', { name: 'Record the payment in QuickBooks' }).click();
    await page
      .getByRole('status')
      .getByText(/QuickBooks payment \S+ of 100 on invoice/)
      .first()
      .waitFor();
    const left = cents(total) - 30000;
    const [now] = await quickbooks(realmId, `SELECT * FROM Invoice WHERE Id = '${invoice.Id}'`, 'Invoice');
    assert.equal(cents(now!.Balance ?? 0), left);

    // The CRM invoice shows the bookkeeper's 100 as well, once, and nothing came back to QuickBooks because of it.
    await page.getByRole('link', { name: 'Activity' }).click();
    const recorded = page.locator('.entry.ok', {
      hasText: new RegExp(`Recorded QuickBooks payment \\S+ \\(100\\.00 CAD.* on CRM invoice .*${number}`),
    });
    await recorded.waitFor({ timeout: 60_000 });
    assert.match(await recorded.innerText(), /partially paid, 300\.00 CAD paid in all/);
    const after = await quickbooks(realmId, 'SELECT * FROM Payment MAXRESULTS 1000', 'Payment');
    assert.equal(
      after.filter((p) => JSON.stringify(p.Line).includes(`"TxnId":"${invoice.Id}"`)).length,
      2,
      "the CRM part payment and the bookkeeper's, each once",
    );
    if (process.env.LEDGERLINK_SCREENSHOTS) {
      await recorded.scrollIntoViewIfNeeded();
      await page.evaluate(() => window.scrollBy(0, 120));
      await page.waitForTimeout(300);
      await page.screenshot({
        path: new URL('../../docs/screenshots/22-quickbooks-payment-in-crm.png', import.meta.url).pathname,
        fullPage: false,
      });
    }
  });

  it('threw no error in the page', () => {
    assert.deepEqual(scriptErrors, []);
  });
});
