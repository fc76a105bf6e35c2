// The connection lifecycle as a user drives it in a real browser (Debian's Chromium, playwright-core) against
// `npm start`'s own stack: an invoice sent while paused reaches QuickBooks after Resume; imported old invoices and
// their payments are not reported missing in QuickBooks; ticking "Import old invoices" after connecting imports
// them at once, an open one as a sent CRM invoice. What reached each side is read through the emulators' APIs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { openDashboard, withChromium, type DashboardSession } from '../support/browserSession.ts';
import type { DemoProcess } from '../support/demoProcess.ts';
import { emulatorAdmin } from '../support/emulatorAdmin.ts';

type Entity = Record<string, unknown> & {
  Id: string;
  TotalAmt: number;
  Balance: number;
  DocNumber?: string;
  CustomerRef?: { value: string };
  PrimaryEmailAddr?: { Address?: string };
};
type CrmInvoice = { _id: string; locationId: string; invoiceNumber?: string | number; status: string; total?: number };

describe('the connection lifecycle in the browser', withChromium, () => {
  let session: DashboardSession | undefined;
  let demo: DemoProcess;
  let page: Page;
  let scriptErrors: string[] = [];

  before(async () => {
    // The periodic polls every 5 s: the sweeps they start have run before anything is paused (and then run at most
    // every few minutes), so only Resume's own catch-up can bring what happened while paused within the test.
    session = await openDashboard({ acceptDialogs: true, env: { LEDGERLINK_POLL_SECONDS: '5' } });
    ({ demo, page, scriptErrors } = session);
  });

  after(async () => {
    await session?.close();
  });

  /** Opens the connection's page; answers its card as the dashboard API gives it. */
  const openConnection = async (
    name: string,
  ): Promise<{ id: string; quickbooks: { realmId: string }; highlevel: { locationId: string } }> => {
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
    return (await (await page.request.get(`${demo.url}/api/connections/${id}`)).json()) as never;
  };

  const quickbooks = async (realmId: string, query: string, entity: string): Promise<Entity[]> => {
    const token = (await emulatorAdmin(demo.quickbooksUrl, 'POST', '/tokens', { realmId })) as { access_token: string };
    const response = await fetch(
      `${demo.quickbooksUrl}/v3/company/${realmId}/query?${new URLSearchParams({ query, minorversion: '75' })}`,
      {
        headers: { authorization: `Bearer ${token.access_token}`, accept: 'application/json' },
      },
    );
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { QueryResponse: Record<string, Entity[]> }).QueryResponse[entity] ?? [];
  };

  const crmInvoices = async (locationId: string): Promise<CrmInvoice[]> =>
    ((await emulatorAdmin(demo.highlevelUrl, 'GET', '/data')).invoices as CrmInvoice[]).filter(
      (i) => i.locationId === locationId,
    );

  const eventually = async <T>(what: string, find: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  it('an invoice sent from the Sandbox tab while paused reaches QuickBooks after Resume', async () => {
    const card = await openConnection('Maple Leaf Consulting');
    await page.locator('.integration .badge.connected').waitFor();
    // Two poll intervals: the invoice sweep has run since the demo connected this business.
    await new Promise((r) => setTimeout(r, 12_000));
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('.integration .badge', { hasText: 'Paused' }).waitFor();

    await page.getByRole('link', { name: 'Sandbox' }).click();
    await page.getByRole('heading', { level: 2, name: 'Sandbox' }).waitFor();
    const email = `paused.${Date.now().toString(36)}@example.ca`;
    const form = page.getByRole('form', { name: 'Send an invoice' });
    await form.getByLabel('Email').fill(email);
    await form.getByRole('button', { name: 'Send the invoice' }).click();
    await page
      .getByRole('status')
      .getByText(/[Ii]nvoice/)
      .first()
      .waitFor();

    // Paused: nothing goes to QuickBooks yet.
    await new Promise((r) => setTimeout(r, 3_000));
    const customerOf = async () =>
      (await quickbooks(card.quickbooks.realmId, 'SELECT * FROM Customer MAXRESULTS 1000', 'Customer')).find(
        (c) => c.PrimaryEmailAddr?.Address === email,
      );
    const invoiceOf = async () => {
      const customer = await customerOf();
      if (!customer) return undefined;
      return (await quickbooks(card.quickbooks.realmId, 'SELECT * FROM Invoice MAXRESULTS 1000', 'Invoice')).find(
        (i) => i.CustomerRef?.value === customer.Id,
      );
    };
    assert.equal(await invoiceOf(), undefined, 'nothing reaches QuickBooks while paused');

    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('.integration .badge.connected').waitFor();
    const invoice = await eventually(
      'the invoice sent while paused to reach QuickBooks after Resume',
      invoiceOf,
      30_000,
    );
    assert.ok(invoice.TotalAmt > 0);
  });

  it('ticking "Import old invoices" after connecting starts the import, with its progress, and an open QuickBooks invoice arrives in the CRM as sent', async () => {
    const card = await openConnection('Sunrise Studio');
    await page.locator('.integration .badge.connected').waitFor();
    const toggle = page.getByLabel('Import old invoices', { exact: true });
    assert.equal(await toggle.isChecked(), false, 'not chosen at connection');
    assert.deepEqual(await crmInvoices(card.highlevel.locationId), [], 'nothing imported before the toggle');
    const open = (await quickbooks(card.quickbooks.realmId, 'SELECT * FROM Invoice MAXRESULTS 1000', 'Invoice')).filter(
      (i) => i.Balance > 0,
    );
    assert.ok(open.length > 0, 'the demo company has an open invoice');

    await toggle.check();
    // The card shows the import's progress, and Activity says it started.
    await page.locator('.integration progress').waitFor({ timeout: 15_000 });
    await page
      .getByText(/Importing \d+ QuickBooks invoices into the CRM/)
      .first()
      .waitFor({ timeout: 30_000 });

    // A CRM invoice is created as a draft, then brought to its QuickBooks status: read them once the import ends.
    await page
      .getByText(/Imported \d+ of \d+ QuickBooks invoices into the CRM/)
      .first()
      .waitFor({ timeout: 30_000 });
    const crm = await crmInvoices(card.highlevel.locationId);
    const imported = open.map((q) => crm.find((i) => String(i.invoiceNumber) === String(q.DocNumber)));
    assert.ok(
      imported.every(Boolean),
      `every open QuickBooks invoice (${open.map((q) => q.DocNumber).join(', ')}) is in the CRM`,
    );
    assert.deepEqual(
      imported.map((i) => i!.status),
      open.map(() => 'sent'),
      'open in QuickBooks: sent in the CRM, not draft',
    );
  });

  it('reconciliation reports no imported paid invoice nor its payment as missing in QuickBooks, and a re-sync queues nothing for them', async () => {
    // Connected with "Import old invoices" chosen on the connect form.
    const card = await openConnection('Harbor Yoga');
    await page.getByLabel(/Import old invoices/).check();
    await page.getByRole('button', { name: 'Connect QuickBooks' }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
    await page.getByLabel(/Harbor Yoga LLC/).check();
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.url));
    await page.locator('.integration .badge.connected').waitFor();
    const connected = (await (await page.request.get(`${demo.url}/api/connections/${card.id}`)).json()) as {
      quickbooks: { realmId: string };
    };
    const qboInvoices = await quickbooks(
      connected.quickbooks.realmId,
      'SELECT * FROM Invoice MAXRESULTS 1000',
      'Invoice',
    );
    assert.ok(
      qboInvoices.some((i) => i.Balance === 0),
      'the demo company has a paid old invoice',
    );
    await eventually(
      'the old invoices imported into the CRM',
      async () => ((await crmInvoices(card.highlevel.locationId)).length >= qboInvoices.length ? true : undefined),
      30_000,
    );

    await page.getByRole('link', { name: 'Reconciliation' }).click();
    await page.getByRole('heading', { level: 2, name: 'Reconciliation' }).waitFor();
    await page.getByRole('button', { name: 'Compare again' }).click();
    const table = page.locator('table.recon');
    await table.waitFor();
    await page.getByText(/^Computed /).waitFor();
    for (const kind of ['Invoices', 'Payments']) {
      const row = table.locator('tbody tr', { has: page.getByRole('rowheader', { name: kind, exact: true }) });
      assert.equal(await row.locator('td').nth(1).innerText(), '0', `${kind}: none missing in QuickBooks`);
    }
    // Any difference still shown that a re-sync cannot change says why, and the re-sync queues no job for it.
    const differences = page.locator('ul.diffs li');
    for (const text of await differences.allInnerTexts())
      assert.match(text, /Missing in the CRM|Amounts differ| — /, `a difference without its note: ${text}`);
    const resync = page.getByRole('button', { name: 'Re-sync the differences' });
    if (await resync.isEnabled()) {
      await resync.click();
      const said = await page.getByRole('status').last().innerText();
      assert.doesNotMatch(said, /[1-9]\d* jobs? queued|queued [1-9]/i, said);
    }
  });

  it('the page threw no error', () => {
    assert.deepEqual(scriptErrors, []);
  });
});
