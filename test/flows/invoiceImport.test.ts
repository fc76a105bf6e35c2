import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server/app.ts';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { readCursor, writeCursor } from '../../src/store/cursors.ts';
import { listActivity } from '../../src/store/activity.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import {
  importInvoices,
  INVOICE_IMPORT_CURSOR,
  type InvoiceImportProgress,
} from '../../src/sync/flows/invoiceImport.ts';
import { reconcile, resyncDifferences } from '../../src/sync/services/reconciliation.ts';

type Rec = Record<string, unknown>;

describe('old QuickBooks invoices are imported once into the CRM, and never go back', () => {
  let s: Stack;
  const docs: Record<string, Rec> = {};
  const crmInvoices = () => [...s.hl.core.store.invoices.values()].filter((i) => i.locationId === s.locationId);
  const qboInvoices = () => s.qbo.admin.listEntities(s.realmId, 'Invoice');
  const progress = () => readCursor<InvoiceImportProgress>(s.t.db, s.connection.id, INVOICE_IMPORT_CURSOR);

  before(async () => {
    s = await startStack({
      country: 'US',
      qbo: { limits: false },
      hl: { limitFactor: Infinity },
      engine: { limits: false },
      connect: { importOldInvoices: true },
      beforeConnect: async ({ qbo, realmId }) => {
        const company = qbo.admin.company(realmId)!;
        const create = (entity: 'Customer' | 'Invoice' | 'Payment' | 'Item', body: Rec) =>
          qbo.admin.accounting.create(company, entity, body);
        const income = qbo.admin.listEntities(realmId, 'Account').find((a) => a.AccountType === 'Income')!;
        const item = create('Item', { Name: 'Design work', Type: 'Service', IncomeAccountRef: { value: income.Id } });
        const ada = create('Customer', {
          DisplayName: 'Ada Lovelace',
          GivenName: 'Ada',
          FamilyName: 'Lovelace',
          PrimaryEmailAddr: { Address: 'ada@example.com' },
        });
        const bob = create('Customer', {
          DisplayName: 'Bob Builder',
          GivenName: 'Bob',
          PrimaryEmailAddr: { Address: 'bob@example.com' },
        });
        const line = (qty: number, price: number, tax = 'NON') => ({
          Amount: Math.round(qty * price * 100) / 100,
          DetailType: 'SalesItemLineDetail',
          SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: qty, UnitPrice: price, TaxCodeRef: { value: tax } },
        });
        docs.paid = create('Invoice', {
          CustomerRef: { value: ada.Id },
          TxnDate: '2026-03-01',
          DueDate: '2026-03-31',
          Line: [line(2, 150)],
        });
        docs.partly = create('Invoice', {
          CustomerRef: { value: ada.Id },
          TxnDate: '2026-04-01',
          DueDate: '2026-05-01',
          Line: [line(1, 99.99), line(3, 12.5)],
        });
        docs.voided = create('Invoice', { CustomerRef: { value: bob.Id }, TxnDate: '2026-04-10', Line: [line(1, 40)] });
        // Taxed (US 8 %): the tax comes over as a line of its own, so the totals agree to the cent.
        docs.open = create('Invoice', {
          CustomerRef: { value: bob.Id },
          TxnDate: '2026-05-02',
          DueDate: '2026-06-01',
          Line: [line(3, 33.33, 'TAX'), line(1, 0.1)],
        });
        create('Payment', {
          CustomerRef: { value: ada.Id },
          TotalAmt: 300,
          Line: [{ Amount: 300, LinkedTxn: [{ TxnId: docs.paid.Id, TxnType: 'Invoice' }] }],
        });
        create('Payment', {
          CustomerRef: { value: ada.Id },
          TotalAmt: 50,
          Line: [{ Amount: 50, LinkedTxn: [{ TxnId: docs.partly.Id, TxnType: 'Invoice' }] }],
        });
        const voided = qbo.admin.listEntities(realmId, 'Invoice').find((i) => i.Id === docs.voided!.Id)!;
        qbo.admin.accounting.void(company, 'Invoice', { Id: voided.Id, SyncToken: voided.SyncToken });
        for (const key of Object.keys(docs))
          docs[key] = qbo.admin.listEntities(realmId, 'Invoice').find((i) => i.Id === docs[key]!.Id)!;
      },
    });
  });
  after(async () => {
    await s.close();
  });

  it('imports every invoice with the same number, dates, lines, totals and status, for the contact of its customer', async () => {
    const done = await eventually(
      async () => {
        const p = await progress();
        return p?.finishedAt ? p : undefined;
      },
      30_000,
      'the invoice import to finish',
    );
    assert.equal(done.total, 4);
    assert.equal(done.imported, 4);
    const byNumber = new Map(crmInvoices().map((i) => [i.invoiceNumber, i]));
    const expect = (key: string, status: string) => {
      const qbo = docs[key]!;
      const crm = byNumber.get(String(qbo.DocNumber));
      assert.ok(crm, `invoice ${String(qbo.DocNumber)} imported`);
      assert.equal(crm.status, status, `${key} status`);
      assert.equal(crm.issueDate.slice(0, 10), qbo.TxnDate);
      const contact = s.hl.core.store.contacts.get(crm.contactDetails.id);
      assert.equal(contact?.email, key === 'paid' || key === 'partly' ? 'ada@example.com' : 'bob@example.com');
      return crm;
    };
    const paid = expect('paid', 'paid');
    assert.equal(paid.dueDate?.slice(0, 10), '2026-03-31');
    assert.equal(paid.items.length, 1);
    assert.equal(paid.items[0]!.qty, 2);
    const partly = expect('partly', 'partially_paid');
    assert.equal(partly.amountPaidMinor, 5000);
    expect('voided', 'void');
    // Open in QuickBooks: sent and due in the CRM too, marked sent there without a message to the customer.
    const open = expect('open', 'sent');
    assert.ok(open.sentAt, 'marked sent');
    const told = (await fetch(
      `${s.hl.url}/_emulator/activity?locationId=${s.locationId}&contactId=${open.contactDetails.id}`,
    ).then((r) => r.json())) as { messages: unknown[] };
    assert.deepEqual(told.messages, [], 'nothing sent to the customer');
    const totalOf = async (id: string) => {
      const token = s.hl.mintToken(s.locationId).access_token;
      const r = await fetch(`${s.hl.url}/invoices/${id}?altId=${s.locationId}&altType=location`, {
        headers: { authorization: `Bearer ${token}`, version: '2021-07-28' },
      });
      return ((await r.json()) as { total: number }).total;
    };
    assert.equal(await totalOf(open.id), docs.open!.TotalAmt, 'the taxed total agrees to the cent');
    assert.equal(await totalOf(partly.id), docs.partly!.TotalAmt);
  });

  it('reconciles imported invoices by their own rule: none is missing in QuickBooks, nor are their payments', async () => {
    const ctx = s.engine.contextFor(s.connection);
    const result = await reconcile(ctx);
    const kind = (name: string) => result.kinds.find((k) => k.kind === name)!;
    assert.deepEqual(
      kind('invoices').differences.map((d) => d.label),
      [],
      'the imported invoices, paid, partly paid, void and open, agree',
    );
    assert.equal(kind('invoices').matched, 4);
    assert.deepEqual(
      kind('payments').differences.map((d) => d.label),
      [],
      'the payments the import recorded in the CRM are not looked for in QuickBooks',
    );
    const resync = await resyncDifferences(ctx, result, (queue) => s.engine.handles(queue));
    assert.deepEqual(resync, {
      enqueued: 0,
      alreadyQueued: 0,
      notCovered: 0,
      message: 'Nothing to re-sync: both sides agree.',
    });
  });

  it('changes nothing in QuickBooks when an imported invoice is created, edited, sent and paid in the CRM', async () => {
    const before = qboInvoices()
      .map((i) => `${String(i.Id)}:${String(i.SyncToken)}`)
      .sort();
    const paymentsBefore = s.qbo.admin.listEntities(s.realmId, 'Payment').length;
    const open = crmInvoices().find((i) => i.invoiceNumber === String(docs.open!.DocNumber))!;
    const token = s.hl.mintToken(s.locationId).access_token;
    const put = await fetch(`${s.hl.url}/invoices/${open.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, version: '2021-07-28', 'content-type': 'application/json' },
      body: JSON.stringify({
        altId: s.locationId,
        altType: 'location',
        name: 'Edited in the CRM',
        currency: 'USD',
        issueDate: '2026-05-02',
        dueDate: '2026-07-01',
        contactDetails: {
          id: open.contactDetails.id,
          name: open.contactDetails.name,
          email: open.contactDetails.email,
          phoneNo: open.contactDetails.phoneNo ?? '',
        },
        invoiceItems: [{ name: 'Something else', currency: 'USD', amount: 500, qty: 1 }],
      }),
    });
    assert.equal(put.status, 200, await put.text());
    const post = (path: string, body: Rec) =>
      fetch(`${s.hl.url}/_emulator${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await post(`/invoices/${open.id}/send`, {})).status, 200);
    assert.equal((await post(`/invoices/${open.id}/record-payment`, { amount: 100 })).status, 200);
    await s.hl.flushWebhooks();
    await s.qbo.admin.webhooks.flush();
    await s.engine.queue.idle(
      [QUEUES.crmInvoice, QUEUES.crmTransaction, QUEUES.crmContact, QUEUES.qboInvoice, QUEUES.importInvoices],
      30_000,
    );
    assert.deepEqual(
      qboInvoices()
        .map((i) => `${String(i.Id)}:${String(i.SyncToken)}`)
        .sort(),
      before,
      'no QuickBooks invoice created or changed',
    );
    assert.equal(s.qbo.admin.listEntities(s.realmId, 'Payment').length, paymentsBefore, 'no QuickBooks payment');
    // Not even an attempt: the CRM -> QuickBooks invoice flow never looked at an imported invoice.
    const imported = new Set(crmInvoices().map((i) => i.id));
    const touched = (
      await listActivity(s.t.db, { connectionId: s.connection.id, flow: 'invoices', limit: 100 })
    ).filter((a) => a.crmId && imported.has(a.crmId));
    assert.deepEqual(
      touched.map((a) => a.message),
      [],
    );

    // The edit is a difference reconciliation shows, and a re-sync says it cannot change it instead of queuing a job.
    const ctx = s.engine.contextFor(s.connection);
    const result = await reconcile(ctx);
    const differences = result.kinds.flatMap((k) => k.differences);
    assert.deepEqual(
      differences.map((d) => [d.kind, d.problem, d.crmAmountMinor, d.resync]),
      [['invoices', 'amountDiffers', 50000, null]],
    );
    assert.match(differences[0]!.note ?? '', /Imported from QuickBooks once, as history/);
    const resync = await resyncDifferences(ctx, result, (queue) => s.engine.handles(queue));
    assert.equal(resync.enqueued + resync.alreadyQueued, 0, 'no job that would do nothing');
    assert.equal(
      resync.message,
      'Nothing to re-sync: no job was queued, because a re-sync cannot change this difference (each says why).',
    );
  });

  it('imports nothing twice when the import runs again, and never an invoice made after the connection', async () => {
    const company = s.qbo.admin.company(s.realmId)!;
    const customer = s.qbo.admin.listEntities(s.realmId, 'Customer')[0]!;
    const item = s.qbo.admin.listEntities(s.realmId, 'Item').find((i) => i.Name === 'Design work')!;
    // QuickBooks' CreateTime has whole seconds: on a fast run the invoice could share the connection's second and
    // count as made before it. Two seconds later it is unambiguously after.
    s.qbo.clock.advance(2_000);
    s.qbo.admin.accounting.create(company, 'Invoice', {
      CustomerRef: { value: customer.Id },
      Line: [
        {
          Amount: 10,
          DetailType: 'SalesItemLineDetail',
          SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 1, UnitPrice: 10 },
        },
      ],
    });
    const count = crmInvoices().length;
    // Start over from the first page, as after a crash that lost the cursor.
    await writeCursor(s.t.db, s.connection.id, INVOICE_IMPORT_CURSOR, {
      ...(await progress())!,
      position: 1,
      done: 0,
      imported: 0,
      finishedAt: undefined,
    });
    const again = await importInvoices(s.engine.contextFor(s.connection));
    assert.equal(again?.done, 4, 'the invoice made after the connection is not in the import');
    assert.equal(crmInvoices().length, count, 'nothing imported twice');
  });
});

describe('"Import old invoices" turned on after connecting', () => {
  let s: Stack;
  let dashboard: FastifyInstance;
  let url = '';
  let cookie = '';
  const PASSWORD = 'import them now, once';
  const crmInvoices = () => [...s.hl.core.store.invoices.values()].filter((i) => i.locationId === s.locationId);
  const call = async (method: string, path: string, body?: unknown): Promise<Rec> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as Rec;
  };
  const toggle = (on: boolean) =>
    call('PATCH', `/api/connections/${s.connection.id}/settings`, { importOldInvoices: on });

  before(async () => {
    s = await startStack({
      country: 'US',
      qbo: { limits: false },
      hl: { limitFactor: Infinity },
      engine: { limits: false },
      beforeConnect: async ({ qbo, realmId }) => {
        const company = qbo.admin.company(realmId)!;
        const income = qbo.admin.listEntities(realmId, 'Account').find((a) => a.AccountType === 'Income')!;
        const item = qbo.admin.accounting.create(company, 'Item', {
          Name: 'Survey',
          Type: 'Service',
          IncomeAccountRef: { value: income.Id },
        });
        const cleo = qbo.admin.accounting.create(company, 'Customer', {
          DisplayName: 'Cleo Later',
          PrimaryEmailAddr: { Address: 'cleo@example.com' },
        });
        for (const amount of [120, 80, 45]) {
          qbo.admin.accounting.create(company, 'Invoice', {
            CustomerRef: { value: cleo.Id },
            TxnDate: '2026-02-01',
            Line: [
              {
                Amount: amount,
                DetailType: 'SalesItemLineDetail',
                SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 1, UnitPrice: amount },
              },
            ],
          });
        }
      },
    });
    dashboard = await buildServer(s.engine, { dashboard: { initialAdmin: { username: 'admin', password: PASSWORD } } });
    await dashboard.listen({ port: 0, host: '127.0.0.1' });
    const address = dashboard.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const login = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    await eventually(
      async () =>
        (await readCursor<{ finishedAt?: string }>(s.t.db, s.connection.id, 'customer-import'))?.finishedAt
          ? true
          : undefined,
      30_000,
      'the customer import',
    );
  });
  after(async () => {
    await dashboard?.close();
    await s?.close();
  });

  it('starts the import at once, with its progress on the card, and imports each invoice once', async () => {
    assert.equal(crmInvoices().length, 0, 'not chosen at connection: nothing imported');
    const answer = await toggle(true);
    assert.equal(answer.importOldInvoices, true);
    assert.equal(answer.note, 'Importing old invoices from QuickBooks into the CRM: the progress shows on this card');
    const progress = await eventually(
      async () => {
        const card = await call('GET', `/api/connections/${s.connection.id}`);
        const p = (card.progress as { invoiceImport: { done: number; total: number } | null }).invoiceImport;
        return p && p.total === 3 && p.done === 3 ? p : undefined;
      },
      30_000,
      'the progress on the card to reach 3 of 3',
    );
    assert.deepEqual(progress, { done: 3, total: 3 });
    assert.deepEqual(
      crmInvoices().map((i) => i.status),
      ['sent', 'sent', 'sent'],
      'open in QuickBooks: sent and due',
    );

    // Off and on again: an import runs once.
    await toggle(false);
    const again = await toggle(true);
    assert.match(
      String(again.note),
      /^Old invoices were imported on \d{4}-\d{2}-\d{2} \(3 of 3\); an import runs once/,
    );
    await s.engine.enqueuePolls();
    await s.engine.queue.idle([QUEUES.importInvoices, QUEUES.importCustomers, QUEUES.crmInvoice], 30_000);
    assert.equal(crmInvoices().length, 3, 'nothing imported twice');
  });

  it('learns the HighLevel user who marks imported invoices sent from a token refresh, when it did not know it', async () => {
    await s.engine.connections.updateSettings(s.connection.id, { highLevelUserId: undefined });
    assert.equal((await s.engine.connections.get(s.connection.id))!.settings.highLevelUserId, undefined);
    const access = (await s.engine.connections.readTokens(s.connection.id, 'hl'))!.accessToken;
    await fetch(`${s.hl.url}/_emulator/tokens/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: access }),
    });
    s.engine.forget(s.connection.id);
    const connection = (await s.engine.connections.get(s.connection.id))!;
    await s.engine.contextFor(connection).hl.locations.get(s.locationId);
    const learnt = await eventually(
      async () => (await s.engine.connections.get(s.connection.id))!.settings.highLevelUserId,
      10_000,
      'the user id',
    );
    assert.ok(learnt.length > 0);
  });
});
