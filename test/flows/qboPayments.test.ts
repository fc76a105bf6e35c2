import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { listActivity } from '../../src/store/activity.ts';
import { findLinkByCrmId, forgetLinks, saveLink } from '../../src/store/links.ts';
import { syncInvoice } from '../../src/sync/flows/invoices.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { crmPaymentModeFor } from '../../src/domain/bookkeepingRefs.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';

type Rec = Record<string, unknown>;

const QUEUES_USED = [QUEUES.crmInvoice, QUEUES.qboPayment, QUEUES.qboInvoice, QUEUES.qboCustomer];

async function admin(base: string, path: string, body: unknown = {}): Promise<Rec> {
  const response = await fetch(`${base}/_emulator${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Rec;
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

function helpers(get: () => Stack) {
  const h = {
    createInvoice: async (email: string, amount: number): Promise<string> => {
      const answer = await admin(get().hl.url, `/locations/${get().locationId}/actions/invoice`, {
        contact: { firstName: email.split('@')[0], lastName: 'Client', email },
        items: [{ name: 'Retainer', amount }],
        send: true,
        issueDate: new Date().toISOString().slice(0, 10),
      });
      return String(answer.invoiceId);
    },
    settle: async () => {
      for (let round = 0; round < 3; round++) {
        await get().qbo.admin.webhooks.flush();
        await get().hl.flushWebhooks();
        await get().engine.queue.idle(QUEUES_USED, 60_000);
      }
    },
    link: (id: string) => findLinkByCrmId(get().t.db, get().connection.id, 'invoice', id),
    qboInvoiceOf: async (id: string): Promise<Rec> => {
      const link = await eventually(
        async () => ((await h.link(id))?.qboId ? h.link(id) : undefined),
        30_000,
        'the QuickBooks invoice',
      );
      return get()
        .qbo.admin.listEntities(get().realmId, 'Invoice')
        .find((i) => i.Id === link!.qboId)!;
    },
    /** A bookkeeper's write through QuickBooks' public API (so its webhooks fire as for any other app). */
    bookkeeper: async (entity: string, body: Rec, operation?: string): Promise<Rec> => {
      const s = get();
      const token = s.qbo.admin.mintToken(s.realmId).access_token;
      const query = operation ? `?operation=${operation}&minorversion=75` : '?minorversion=75';
      const response = await fetch(`${s.qbo.url}/v3/company/${s.realmId}/${entity.toLowerCase()}${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await response.json()) as Rec;
      if (!response.ok) throw new Error(`bookkeeper ${entity}: ${response.status} ${JSON.stringify(json)}`);
      return json[entity] as Rec;
    },
    method: (name: string) =>
      get()
        .qbo.admin.listEntities(get().realmId, 'PaymentMethod')
        .find((m) => m.Name === name)!,
    payInQuickBooks: (invoice: Rec, amount: number, extra: Rec = {}) =>
      h.bookkeeper('Payment', {
        CustomerRef: invoice.CustomerRef,
        TotalAmt: amount,
        TxnDate: '2026-12-01',
        Line: [{ Amount: amount, LinkedTxn: [{ TxnId: invoice.Id, TxnType: 'Invoice' }] }],
        ...extra,
      }),
    crm: (id: string) => get().engine.contextFor(get().connection).hl.invoices.get(id),
    transactionsOf: (id: string) =>
      [...get().hl.core.store.transactions.values()].filter((t) => t.invoiceId === id || t.entityId === id),
    paymentsOf: (qboInvoiceId: string) =>
      get()
        .qbo.admin.listEntities(get().realmId, 'Payment')
        .filter((p) =>
          ((p.Line as Rec[] | undefined) ?? []).some((l) =>
            ((l.LinkedTxn as Rec[] | undefined) ?? []).some((t) => t.TxnId === qboInvoiceId && t.TxnType === 'Invoice'),
          ),
        ),
    activity: async (id: string, flow = 'qboPayments') =>
      (await listActivity(get().t.db, { connectionId: get().connection.id, limit: 1000 })).filter(
        (a) => a.crmId === id && a.flow === flow,
      ),
  };
  return h;
}

describe('QuickBooks payments on invoices made from CRM invoices are recorded on the CRM invoice', () => {
  let s: Stack;
  const h = helpers(() => s);

  before(async () => {
    s = await startStack({ country: 'US', connect: { reviewRequests: true } });
  });
  after(async () => {
    await s.close();
  });
  beforeEach(() => {
    s.qbo.faults.clear();
    s.hl.core.faults.clear();
  });

  it('is on for a new connection', () => {
    assert.equal(s.connection.paymentsFromQuickBooks, true);
  });

  it('records a cheque and then a transfer: the CRM invoice goes partially paid, then paid, with nothing written back', async () => {
    const id = await h.createInvoice('cheque@example.com', 300);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    await h.payInQuickBooks(invoice, 100, {
      PaymentMethodRef: { value: h.method('Check').Id },
      PaymentRefNum: '1042',
    });
    await h.settle();
    const partly = await h.crm(id);
    assert.equal(partly.status, 'partially_paid');
    assert.equal(partly.amountPaid, 100);
    const [first] = h.transactionsOf(id);
    assert.equal((first?.paymentMethod as Rec | undefined)?.mode, 'cheque');
    assert.deepEqual((first?.paymentMethod as Rec | undefined)?.cheque, { number: '1042' });
    assert.equal(new Date(first!.fulfilledAt).toISOString().slice(0, 10), '2026-12-01');

    const transfer = await h.bookkeeper('PaymentMethod', { Name: 'Bank Transfer', Type: 'NON_CREDIT_CARD' });
    await h.payInQuickBooks(invoice, 200, { PaymentMethodRef: { value: transfer.Id } });
    await h.settle();
    const paid = await h.crm(id);
    assert.equal(paid.status, 'paid');
    assert.equal(paid.amountPaid, 300);
    assert.deepEqual(
      h.transactionsOf(id).map((t) => [t.amountMinor, (t.paymentMethod as Rec).mode]),
      [
        [10_000, 'cheque'],
        [20_000, 'bank_transfer'],
      ],
    );
    // No echo: QuickBooks holds the bookkeeper's two payments and nothing ledgerlink wrote back.
    assert.equal(h.paymentsOf(String(invoice.Id)).length, 2);
    const link = await h.link(id);
    assert.equal(link?.data.paidMinor, 30_000);
    const entries = await h.activity(id);
    assert.equal(entries.filter((a) => a.status === 'ok').length, 2);
    assert.ok(
      entries.some((a) =>
        /^Recorded QuickBooks payment \d+ \(100\.00 USD, cheque, 2026-12-01\) on CRM invoice INV-\d+: partially paid/.test(
          a.message,
        ),
      ),
      entries.map((a) => a.message).join('\n'),
    );
    assert.equal((await h.activity(id, 'invoices')).filter((a) => a.qboKind === 'Payment').length, 0);
  });

  it('sends the review request once when the QuickBooks payment pays the first invoice in full', async () => {
    const id = await h.createInvoice('review-qbo@example.com', 80);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    await h.payInQuickBooks(invoice, 80, { PaymentMethodRef: { value: h.method('Cash').Id } });
    await h.settle();
    assert.equal((await h.crm(id)).status, 'paid');
    const rows = await s.t.db.query(
      `SELECT state FROM review_requests WHERE connection_id = $1 AND qbo_invoice_id = $2`,
      [s.connection.id, invoice.Id],
    );
    assert.equal(rows.rows.length, 1, 'one review request');
  });

  it('leaves payments ledgerlink wrote itself alone: a CRM payment goes to QuickBooks once and never comes back', async () => {
    const id = await h.createInvoice('crm-paid@example.com', 120);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    await admin(s.hl.url, `/invoices/${id}/record-payment`, { mode: 'card' });
    await h.settle();
    assert.equal(h.paymentsOf(String(invoice.Id)).length, 1, 'the CRM payment, written once');
    assert.equal(h.transactionsOf(id).length, 1, 'not recorded back in the CRM');
    assert.equal((await h.crm(id)).amountPaid, 120);
    assert.equal((await h.activity(id)).length, 0);
    const rows = await s.t.db.query(`SELECT 1 FROM review_requests WHERE connection_id = $1 AND qbo_invoice_id = $2`, [
      s.connection.id,
      invoice.Id,
    ]);
    assert.equal(rows.rows.length, 1, 'the review request fires from a CRM-side payment too, once');
  });

  it('records a credit memo applied to the invoice (a payment of 0 that takes the credit)', async () => {
    const id = await h.createInvoice('credit@example.com', 90);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    const item = s.qbo.admin.listEntities(s.realmId, 'Item').find((i) => i.Type === 'Service')!;
    const memo = await h.bookkeeper('CreditMemo', {
      CustomerRef: invoice.CustomerRef,
      Line: [
        {
          Amount: 40,
          DetailType: 'SalesItemLineDetail',
          SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 1, UnitPrice: 40 },
        },
      ],
    });
    assert.equal(memo.RemainingCredit, 40);
    await h.bookkeeper('Payment', {
      CustomerRef: invoice.CustomerRef,
      TotalAmt: 0,
      Line: [
        { Amount: 40, LinkedTxn: [{ TxnId: invoice.Id, TxnType: 'Invoice' }] },
        { Amount: 40, LinkedTxn: [{ TxnId: memo.Id, TxnType: 'CreditMemo' }] },
      ],
    });
    await h.settle();
    const after = s.qbo.admin.listEntities(s.realmId, 'CreditMemo').find((m) => m.Id === memo.Id)!;
    assert.equal(after.RemainingCredit, 0, 'the credit is used');
    const crm = await h.crm(id);
    assert.equal(crm.status, 'partially_paid');
    assert.equal(crm.amountPaid, 40);
    assert.equal(
      h.transactionsOf(id)[0]?.paymentMethod && (h.transactionsOf(id)[0]!.paymentMethod as Rec).mode,
      'other',
    );
  });

  it('reports a payment voided or deleted in QuickBooks once, as needing attention (the CRM cannot un-record it)', async () => {
    const id = await h.createInvoice('voided@example.com', 50);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    const payment = await h.payInQuickBooks(invoice, 50);
    await h.settle();
    assert.equal((await h.crm(id)).status, 'paid');
    await h.bookkeeper('Payment', { Id: payment.Id, SyncToken: payment.SyncToken }, 'void');
    await h.settle();
    // Delivered again (a replayed webhook, change data capture): still one open error.
    await s.engine.queue.enqueue(QUEUES.qboPayment, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:qbo-payment:${String(payment.Id)}`,
      paymentId: payment.Id,
    });
    await h.settle();
    const errors = (await h.activity(id)).filter((a) => a.status === 'error' && !a.resolvedAt);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.detail?.code, 'quickbooks-payment-removed');
    assert.match(errors[0]!.message, /was voided in QuickBooks.*HighLevel cannot take back/);
    assert.equal((await h.crm(id)).amountPaid, 50, 'the CRM keeps what was recorded');
    // Nothing is written to QuickBooks because of it either.
    assert.equal(h.paymentsOf(String(invoice.Id)).filter((p) => (p.TotalAmt as number) > 0).length, 0);

    const id2 = await h.createInvoice('deleted@example.com', 70);
    await h.settle();
    const invoice2 = await h.qboInvoiceOf(id2);
    const payment2 = await h.payInQuickBooks(invoice2, 30);
    await h.settle();
    await h.bookkeeper('Payment', { Id: payment2.Id, SyncToken: payment2.SyncToken }, 'delete');
    await h.settle();
    const errors2 = (await h.activity(id2)).filter((a) => a.status === 'error' && !a.resolvedAt);
    assert.equal(errors2.length, 1);
    assert.match(errors2[0]!.message, /was deleted in QuickBooks/);
  });

  it('settles a record-payment whose answer was lost, and one HighLevel failed, each recorded exactly once', async () => {
    const id = await h.createInvoice('lost@example.com', 100);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    s.hl.core.faults.addRule({ kind: 'loseAnswer', rate: 1, path: '/record-payment', count: 1 });
    await h.payInQuickBooks(invoice, 25);
    await h.settle();
    s.hl.core.faults.addRule({ kind: 'error500', rate: 1, path: '/record-payment', count: 1 });
    await h.payInQuickBooks(invoice, 35);
    await h.settle();
    await eventually(async () => ((await h.crm(id)).amountPaid === 60 ? true : undefined), 30_000, 'both recorded');
    await h.settle();
    assert.deepEqual(
      h.transactionsOf(id).map((t) => t.amountMinor),
      [2_500, 3_500],
    );
    assert.equal((await h.link(id))?.data.paidMinor, 6_000);
    const injected = s.hl.core.faults.stats();
    assert.ok((injected.loseAnswer ?? 0) >= 1 && (injected.error500 ?? 0) >= 1, JSON.stringify(injected));
    assert.equal(h.paymentsOf(String(invoice.Id)).length, 2, 'nothing written back to QuickBooks');
  });

  it('tells a record-payment that never landed from a CRM payment made meanwhile', async () => {
    const id = await h.createInvoice('meanwhile@example.com', 100);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    // A worker stopped right after claiming 35.00 of a QuickBooks payment for the CRM, before HighLevel heard of it.
    const link = (await h.link(id))!;
    await saveLink(s.t.db, {
      ...link,
      data: {
        ...link.data,
        paidMinor: 3_500,
        fromQuickBooks: {
          '999': { recordedMinor: 0, pendingMinor: 3_500, transactionsBefore: [], removedMinor: null },
        },
      },
    });
    // Then the customer pays 40.00 in the CRM, which is more than the claim: amountPaid alone would pass it for it.
    await admin(s.hl.url, `/invoices/${id}/record-payment`, { mode: 'card', amount: 40 });
    await h.settle();
    const written = h.paymentsOf(String(invoice.Id));
    assert.deepEqual(
      written.map((p) => p.TotalAmt),
      [40],
      'the CRM payment reaches QuickBooks whole: the claim was not taken for it',
    );
    const after = (await h.link(id))!;
    assert.equal(after.data.paidMinor, 4_000);
    assert.deepEqual((after.data.fromQuickBooks as Rec)['999'], {
      recordedMinor: 0,
      pendingMinor: 0,
      transactionsBefore: [],
      removedMinor: null,
    });
  });

  it('records a payment the bookkeeper made on a new invoice before ledgerlink had linked it', async () => {
    const id = await h.createInvoice('race@example.com', 90);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    // As if the invoice job had been stopped between writing the invoice and saving its link.
    await forgetLinks(s.t.db, s.connection.id, 'invoice', [id]);
    await h.payInQuickBooks(invoice, 40);
    await s.qbo.admin.webhooks.flush();
    await eventually(
      async () =>
        (await s.t.db.query(`SELECT 1 FROM pgboss.job WHERE name = 'qbo-payment' AND state = 'retry'`)).rows.length > 0
          ? true
          : undefined,
      30_000,
      'the payment job waiting for the link',
    );
    assert.equal((await h.crm(id)).amountPaid ?? 0, 0, 'nothing recorded without the link');
    // The invoice job runs again: it finds its own invoice by number, links it, and offers the payment again.
    await syncInvoice(s.engine.contextFor(s.connection), id);
    await h.settle();
    await eventually(async () => ((await h.crm(id)).amountPaid === 40 ? true : undefined), 30_000, 'recorded');
    assert.equal(h.transactionsOf(id).length, 1);
    assert.equal(h.paymentsOf(String(invoice.Id)).length, 1, 'nothing written back');
    assert.equal((await h.link(id))?.qboId, invoice.Id, 'the same QuickBooks invoice, linked');
  });

  it('records no more than the CRM invoice has due, and says what was left over', async () => {
    const id = await h.createInvoice('over@example.com', 60);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    await admin(s.hl.url, `/invoices/${id}/record-payment`, { mode: 'cash', amount: 50 });
    // The bookkeeper records the whole invoice before the CRM payment reached QuickBooks.
    await h.payInQuickBooks(invoice, 60);
    await h.settle();
    const crm = await h.crm(id);
    assert.ok((crm.amountPaid ?? 0) <= 60, 'never more than the invoice total in the CRM');
    const errors = [...(await h.activity(id)), ...(await h.activity(id, 'invoices'))].filter(
      (a) => a.status === 'error' && !a.resolvedAt,
    );
    assert.ok(errors.length >= 1, 'the difference is shown');
  });

  it('records nothing while the toggle is off', async () => {
    const answer = await fetch(`${s.url}/api/connections/${s.connection.id}/settings`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...(await sessionHeaders(s)) },
      body: JSON.stringify({ paymentsFromQuickBooks: false }),
    });
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.equal(((await answer.json()) as Rec).paymentsFromQuickBooks, false);
    const id = await h.createInvoice('off@example.com', 40);
    await h.settle();
    const invoice = await h.qboInvoiceOf(id);
    await h.payInQuickBooks(invoice, 40);
    await h.settle();
    assert.equal((await h.crm(id)).amountPaid ?? 0, 0);
    assert.equal(h.transactionsOf(id).length, 0);
    await s.engine.connections.updateToggles(s.connection.id, { paymentsFromQuickBooks: true });
    s.engine.forget(s.connection.id);
  });
});

describe('payments on invoices imported from QuickBooks stay in QuickBooks', () => {
  let s: Stack;
  const h = helpers(() => s);
  let imported: Rec;

  before(async () => {
    s = await startStack({
      country: 'US',
      connect: { importOldInvoices: true },
      beforeConnect: async ({ qbo, realmId }) => {
        const company = qbo.admin.company(realmId)!;
        const item = qbo.admin.listEntities(realmId, 'Item').find((i) => i.Type === 'Service')!;
        const customer = qbo.admin.accounting.create(company, 'Customer', {
          DisplayName: 'Old Client',
          PrimaryEmailAddr: { Address: 'old@example.com' },
        });
        imported = qbo.admin.accounting.create(company, 'Invoice', {
          CustomerRef: { value: customer.Id },
          TxnDate: '2026-03-01',
          Line: [
            {
              Amount: 75,
              DetailType: 'SalesItemLineDetail',
              SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 1, UnitPrice: 75, TaxCodeRef: { value: 'NON' } },
            },
          ],
        });
      },
    });
  });
  after(async () => {
    await s.close();
  });

  it('says so on the activity and records nothing in the CRM', async () => {
    await eventually(
      async () => {
        const r = await s.t.db.query(
          `SELECT crm_id FROM links WHERE connection_id = $1 AND kind = 'importedInvoice' AND qbo_id = $2 AND state = 'linked'`,
          [s.connection.id, imported.Id],
        );
        return r.rows[0] as { crm_id: string } | undefined;
      },
      60_000,
      'the import',
    );
    const crmId = (
      await s.t.db.query<{ crm_id: string }>(
        `SELECT crm_id FROM links WHERE connection_id = $1 AND kind = 'importedInvoice' AND qbo_id = $2`,
        [s.connection.id, imported.Id],
      )
    ).rows[0]!.crm_id;
    const before = (await h.crm(crmId)).amountPaid ?? 0;
    await h.payInQuickBooks(imported, 75);
    await h.settle();
    assert.equal((await h.crm(crmId)).amountPaid ?? 0, before);
    const skipped = (await h.activity(crmId)).filter((a) => a.status === 'skipped');
    assert.equal(skipped.length, 1);
    assert.match(skipped[0]!.message, /imported from QuickBooks as history/);
  });
});

describe('the CRM payment mode of a QuickBooks payment method', () => {
  it('reads the mapping backwards, then the usual names, then the method type', () => {
    const none = { paymentMethods: {} };
    assert.deepEqual(crmPaymentModeFor({ Id: '1', Name: 'Check' }, none), { mode: 'cheque' });
    assert.deepEqual(crmPaymentModeFor({ Id: '1', Name: 'cheque' }, none), { mode: 'cheque' });
    assert.deepEqual(crmPaymentModeFor({ Id: '2', Name: 'Cash' }, none), { mode: 'cash' });
    assert.deepEqual(crmPaymentModeFor({ Id: '3', Name: 'EFT' }, none), { mode: 'bank_transfer' });
    assert.deepEqual(crmPaymentModeFor({ Id: '4', Name: 'Visa' }, none), { mode: 'card', brand: 'Visa' });
    assert.deepEqual(crmPaymentModeFor({ Id: '5', Name: 'Wire', Type: 'NON_CREDIT_CARD' }, none), { mode: 'other' });
    assert.deepEqual(crmPaymentModeFor({ Id: '5', Name: 'Wire' }, { paymentMethods: { bank_transfer: '5' } }), {
      mode: 'bank_transfer',
    });
    assert.deepEqual(crmPaymentModeFor({ Id: '6', Name: 'Stripe', Type: 'CREDIT_CARD' }, none), {
      mode: 'card',
      brand: 'Stripe',
    });
    assert.deepEqual(crmPaymentModeFor(undefined, none), { mode: 'other' });
  });
});

/** A signed-in dashboard session (the settings route is behind the login). */
async function sessionHeaders(s: Stack): Promise<Record<string, string>> {
  const password = 'correct horse battery staple';
  await createAdmin(s.t.db, { username: 'admin', passwordHash: await hashPassword(password) });
  const login = await fetch(`${s.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  return { cookie: login.headers.get('set-cookie')!.split(';')[0]! };
}
