import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { listActivity } from '../../src/store/activity.ts';
import { findLinkByCrmId } from '../../src/store/links.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { syncInvoice, sweepInvoices } from '../../src/sync/flows/invoices.ts';
import type { Invoice as HighLevelInvoice } from '../../src/highlevel/invoices.ts';

type Rec = Record<string, unknown>;

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

/** What the tests need around one stack: acting in the CRM, waiting for the engine, reading QuickBooks. */
function helpers(get: () => Stack) {
  const h = {
    hl: () => get().engine.contextFor(get().connection).hl,
    invoices: () => get().qbo.admin.listEntities(get().realmId, 'Invoice'),
    payments: () => get().qbo.admin.listEntities(get().realmId, 'Payment'),
    createInvoice: async (body: Rec): Promise<{ id: string; invoice: Rec }> => {
      const answer = await admin(get().hl.url, `/locations/${get().locationId}/actions/invoice`, body);
      return { id: String(answer.invoiceId), invoice: answer.invoice as Rec };
    },
    send: (id: string) => admin(get().hl.url, `/invoices/${id}/send`),
    pay: (id: string, amount?: number) =>
      admin(
        get().hl.url,
        `/invoices/${id}/record-payment`,
        amount === undefined ? { mode: 'cash' } : { mode: 'cash', amount },
      ),
    voidInCrm: (id: string) => admin(get().hl.url, `/invoices/${id}/void`),
    settle: async () => {
      await get().hl.flushWebhooks();
      await get().engine.queue.idle([QUEUES.crmInvoice], 60_000);
    },
    link: (id: string) => findLinkByCrmId(get().t.db, get().connection.id, 'invoice', id),
    /** The QuickBooks invoice linked to a CRM invoice (found through the link: a voided one loses its note). */
    qboInvoice: async (id: string): Promise<Rec | undefined> => {
      const link = await h.link(id);
      if (!link?.qboId) return undefined;
      return h.invoices().find((i) => i.Id === link.qboId);
    },
    waitForQboInvoice: (id: string, what = 'the QuickBooks invoice') =>
      eventually(() => h.qboInvoice(id), 30_000, what),
    paymentsOf: (qboInvoiceId: string) =>
      h
        .payments()
        .filter((p) =>
          ((p.Line as Rec[] | undefined) ?? []).some((l) =>
            ((l.LinkedTxn as Rec[] | undefined) ?? []).some((t) => t.TxnId === qboInvoiceId),
          ),
        ),
    activity: async (id: string) =>
      (await listActivity(get().t.db, { connectionId: get().connection.id, limit: 1000 })).filter(
        (a) => a.crmId === id,
      ),
    /** An edit made by a CRM user through HighLevel's public API (PUT /invoices/:id). */
    edit: async (id: string, change: (current: HighLevelInvoice) => Rec) => {
      const current = await h.hl().invoices.get(id);
      const base = {
        name: current.name ?? 'Invoice',
        currency: current.currency,
        issueDate: current.issueDate ?? '',
        dueDate: current.dueDate ?? current.issueDate ?? '',
        contactDetails: {
          id: current.contactDetails!.id,
          name: current.contactDetails?.name ?? '',
          email: current.contactDetails?.email ?? '',
          phoneNo: current.contactDetails?.phoneNo ?? '',
        },
        invoiceItems: current.invoiceItems.map((i) => ({
          name: i.name,
          currency: current.currency,
          amount: i.amount,
          qty: i.qty,
          taxes: i.taxes.map((t) => ({ _id: t._id ?? 'tax', name: t.name ?? 'Tax', rate: t.rate ?? 0 })),
        })),
      };
      return h
        .hl()
        .invoices.update(id, { ...base, ...change(current) } as Parameters<
          ReturnType<typeof h.hl>['invoices']['update']
        >[1]);
    },
    bookkeeperUpdate: async (body: Rec): Promise<Rec> => {
      const s = get();
      const token = s.qbo.admin.mintToken(s.realmId).access_token;
      const response = await fetch(`${s.qbo.url}/v3/company/${s.realmId}/invoice?operation=update&minorversion=75`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ ...body, sparse: true }),
      });
      const json = (await response.json()) as Rec;
      if (!response.ok) throw new Error(`bookkeeper update: ${response.status} ${JSON.stringify(json)}`);
      return json.Invoice as Rec;
    },
  };
  return h;
}

const TODAY = () => new Date().toISOString().slice(0, 10);

describe('CRM invoices follow into QuickBooks for their whole life (US company)', () => {
  let s: Stack;
  const h = helpers(() => s);

  before(async () => {
    s = await startStack({ country: 'US' });
  });
  after(async () => {
    await s.close();
  });
  beforeEach(() => {
    s.qbo.faults.clear();
    s.hl.core.faults.clear();
  });

  it('creates nothing for a draft, then the same invoice in QuickBooks once it is sent', async () => {
    const { id, invoice } = await h.createInvoice({
      contact: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' },
      items: [
        { name: 'Design work', amount: 500, qty: 2, taxes: [{ name: 'Sales tax', rate: 8.25 }] },
        { name: 'Hosting', amount: 34.5 },
      ],
      issueDate: '2026-11-20',
      dueDate: '2026-12-20',
    });
    await h.settle();
    assert.equal(await h.qboInvoice(id), undefined, 'a draft is not synced');
    await h.send(id);
    await h.settle();
    const qbo = await h.waitForQboInvoice(id);
    const crm = await h.hl().invoices.get(id);
    assert.equal(qbo.DocNumber, String(invoice.invoiceNumber));
    assert.equal(qbo.TxnDate, '2026-11-20');
    assert.equal(qbo.DueDate, '2026-12-20');
    assert.equal(qbo.TotalAmt, crm.total, 'US: tax folded into the prices, same total');
    assert.equal(qbo.TotalAmt, 1117, '2 x 500 + 8.25% tax + 34.50');
    assert.deepEqual(qbo.BillEmail, { Address: 'ada@example.com' });
    assert.match(String(qbo.PrivateNote), new RegExp(`HighLevel invoice ${id}`));
    const lines = (qbo.Line as Rec[]).filter((l) => l.DetailType === 'SalesItemLineDetail');
    assert.equal(lines.length, 2);
    const customer = s.qbo.admin
      .listEntities(s.realmId, 'Customer')
      .find((c) => c.Id === (qbo.CustomerRef as Rec).value);
    assert.equal((customer?.PrimaryEmailAddr as Rec | undefined)?.Address, 'ada@example.com');
    const items = s.qbo.admin.listEntities(s.realmId, 'Item').map((i) => i.Name);
    assert.ok(items.includes('Design work') && items.includes('Hosting'));
    const created = (await h.activity(id)).find(
      (a) => a.status === 'ok' && /^Created QuickBooks invoice/.test(a.message),
    );
    assert.match(
      created?.message ?? '',
      new RegExp(
        `Created QuickBooks invoice ${String(qbo.DocNumber)} for CRM invoice INV-${String(invoice.invoiceNumber)} \\(1,117\\.00 USD`,
      ),
    );
  });

  it('follows edits, two partial payments and the final payment: one Payment per rise, balance = amount due', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com' },
      items: [{ name: 'Workshop', amount: 400 }],
      send: true,
      issueDate: TODAY(),
    });
    await h.settle();
    const first = await h.waitForQboInvoice(id);
    assert.equal(first.TotalAmt, 400);

    // Edited in the CRM: another line, a new due date and number, another billing email.
    await h.edit(id, (cur) => ({
      dueDate: '2027-01-31',
      invoiceNumber: 'G-7001',
      contactDetails: {
        id: cur.contactDetails!.id,
        name: 'Grace Hopper',
        email: 'accounts@hopper.example',
        phoneNo: cur.contactDetails?.phoneNo ?? '',
      },
      invoiceItems: [
        { name: 'Workshop', currency: 'USD', amount: 400, qty: 1, taxes: [] },
        { name: 'Travel', description: 'Train to the venue', currency: 'USD', amount: 120.75, qty: 1, taxes: [] },
      ],
    }));
    await h.settle();
    const edited = await eventually(
      async () => {
        const q = await h.qboInvoice(id);
        return q?.TotalAmt === 520.75 ? q : undefined;
      },
      30_000,
      'the edit',
    );
    assert.equal(edited.Id, first.Id, 'the same QuickBooks invoice');
    assert.equal(edited.DueDate, '2027-01-31');
    assert.equal(edited.DocNumber, 'G-7001');
    assert.deepEqual(edited.BillEmail, { Address: 'accounts@hopper.example' });
    assert.ok((edited.Line as Rec[]).some((l) => l.Description === 'Train to the venue'));

    await h.pay(id, 100);
    await h.settle();
    await h.pay(id, 150.25);
    await h.settle();
    let qbo = (await h.qboInvoice(id))!;
    assert.equal(h.paymentsOf(String(qbo.Id)).length, 2);
    assert.equal(qbo.Balance, 270.5);
    assert.equal((await h.hl().invoices.get(id)).amountDue, 270.5);

    await h.pay(id);
    await h.settle();
    qbo = (await h.qboInvoice(id))!;
    const payments = h.paymentsOf(String(qbo.Id));
    assert.deepEqual(
      payments.map((p) => p.TotalAmt).sort((a, b) => Number(a) - Number(b)),
      [100, 150.25, 270.5],
    );
    assert.equal(qbo.Balance, 0, 'paid in full');
    const messages = (await h.activity(id)).map((a) => a.message);
    assert.ok(
      messages.some((m) => m.startsWith('Recorded payment of 100.00 USD on QuickBooks invoice G-7001')),
      messages.join('\n'),
    );
    assert.equal((await h.activity(id)).filter((a) => a.status === 'error').length, 0);
  });

  it('moves the QuickBooks invoice to the customer of the new contact when the CRM invoice changes contact', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'First', lastName: 'Buyer', email: 'first.buyer@example.com' },
      items: [{ name: 'Workshop', amount: 99 }],
      send: true,
    });
    await h.settle();
    const before = await h.waitForQboInvoice(id);
    const other = await admin(s.hl.url, `/locations/${s.locationId}/actions/contact`, {
      firstName: 'Second',
      lastName: 'Buyer',
      email: 'second.buyer@example.com',
    });
    await h.edit(id, () => ({
      contactDetails: {
        id: String(other.contactId),
        name: 'Second Buyer',
        email: 'second.buyer@example.com',
        phoneNo: '',
      },
    }));
    await h.settle();
    const after = await eventually(
      async () => {
        const q = await h.qboInvoice(id);
        return q && (q.CustomerRef as Rec).value !== (before.CustomerRef as Rec).value ? q : undefined;
      },
      30_000,
      'the new customer',
    );
    const customer = s.qbo.admin
      .listEntities(s.realmId, 'Customer')
      .find((c) => c.Id === (after.CustomerRef as Rec).value);
    assert.equal((customer?.PrimaryEmailAddr as Rec | undefined)?.Address, 'second.buyer@example.com');
    assert.deepEqual(after.BillEmail, { Address: 'second.buyer@example.com' });
    assert.equal(after.Id, before.Id);
  });

  it('voids the QuickBooks invoice when the CRM voids it, keeping the partial payment as the customer credit, and keeps it when the CRM deletes it', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Alan', lastName: 'Turing', email: 'alan@example.com' },
      items: [{ name: 'Audit', amount: 300 }],
      send: true,
    });
    await h.settle();
    await h.pay(id, 50);
    await h.settle();
    const qbo = await h.waitForQboInvoice(id);
    assert.equal(qbo.Balance, 250);
    await h.voidInCrm(id);
    await h.settle();
    const voided = (await h.qboInvoice(id))!;
    assert.equal(voided.TotalAmt, 0);
    assert.equal(voided.PrivateNote, 'Voided');
    const payment = h.payments().find((p) => String(p.PrivateNote ?? '').includes(id));
    assert.ok(payment, 'the payment is still in QuickBooks');
    assert.equal(payment.TotalAmt, 50);
    assert.equal(payment.UnappliedAmt, 50, 'the money stays on the customer as a credit');

    await h.hl().invoices.delete(id);
    await h.settle();
    const after = (await h.qboInvoice(id))!;
    assert.equal(after.Id, voided.Id, 'a deletion never removes accounting history');
    assert.equal(h.invoices().filter((i) => i.Id === voided.Id).length, 1);
    assert.equal((await h.link(id))?.data.deleted, true);
    assert.ok((await h.activity(id)).some((a) => /^Voided QuickBooks invoice .* voided in the CRM$/.test(a.message)));
  });

  it('voids in QuickBooks an invoice deleted in the CRM even when the void webhook was lost', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Kurt', lastName: 'Godel', email: 'kurt@example.com' },
      items: [{ name: 'Audit', amount: 90 }],
      send: true,
    });
    await h.settle();
    await h.waitForQboInvoice(id);
    s.hl.core.faults.configure({ rules: [], webhooks: { drop: 1 } });
    await h.voidInCrm(id);
    await h.settle();
    s.hl.core.faults.clear();
    assert.notEqual((await h.qboInvoice(id))?.TotalAmt, 0, 'the void did not arrive');
    await h.hl().invoices.delete(id);
    await h.settle();
    const qbo = (await h.qboInvoice(id))!;
    assert.equal(qbo.TotalAmt, 0);
    assert.equal(qbo.PrivateNote, 'Voided');
    assert.ok((await h.activity(id)).some((a) => /deleted in the CRM/.test(a.message)));
  });

  it('converges on one invoice and one payment per rise with duplicated and reordered webhooks', async () => {
    s.hl.core.faults.configure({ seed: 7, rules: [], webhooks: { duplicate: 1, reorder: 0.5 } });
    const { id } = await h.createInvoice({
      contact: { firstName: 'Edsger', lastName: 'Dijkstra', email: 'edsger@example.com' },
      items: [{ name: 'Review', amount: 80, qty: 3 }],
      send: true,
    });
    await h.pay(id, 40);
    await h.edit(id, () => ({ dueDate: '2027-02-28' }));
    await h.pay(id, 60);
    await h.settle();
    s.hl.core.faults.clear();
    // A last event pushes out anything held back for reordering.
    await h.pay(id, 10);
    await h.settle();
    const mine = h.invoices().filter((i) => String(i.PrivateNote ?? '').includes(id));
    assert.equal(mine.length, 1);
    const qbo = mine[0]!;
    assert.equal(qbo.DueDate, '2027-02-28');
    assert.deepEqual(
      h
        .paymentsOf(String(qbo.Id))
        .map((p) => p.TotalAmt)
        .reduce((a, b) => Number(a) + Number(b), 0),
      110,
    );
    assert.equal(qbo.Balance, 130);
  });

  it('creates one invoice and one payment when QuickBooks commits but the answer is lost', async () => {
    s.qbo.faults.configure({
      rules: [
        { kind: 'loseAnswer', rate: 1, method: 'POST', path: '/invoice', count: 1 },
        { kind: 'loseAnswer', rate: 1, method: 'POST', path: '/payment', count: 1 },
      ],
    });
    const { id } = await h.createInvoice({
      contact: { firstName: 'Barbara', lastName: 'Liskov', email: 'barbara@example.com' },
      items: [{ name: 'Training', amount: 250 }],
      send: true,
    });
    await h.settle();
    await h.pay(id, 100);
    await h.settle();
    const qbo = await eventually(
      async () => {
        const q = await h.qboInvoice(id);
        return q?.Balance === 150 ? q : undefined;
      },
      60_000,
      'the invoice and its payment',
    );
    await h.settle();
    assert.equal(s.qbo.faults.stats().loseAnswer, 2, 'both faults fired');
    assert.equal(h.invoices().filter((i) => String(i.PrivateNote ?? '').includes(id)).length, 1);
    assert.equal(h.paymentsOf(String(qbo.Id)).length, 1);
  });

  it('re-reads and re-applies when a bookkeeper edited the QuickBooks invoice between two CRM changes (stale SyncToken)', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Donald', lastName: 'Knuth', email: 'don@example.com' },
      items: [{ name: 'Typesetting', amount: 64 }],
      send: true,
    });
    await h.settle();
    const qbo = await h.waitForQboInvoice(id);
    const remembered = (await h.link(id))!.qboSyncToken;
    await h.bookkeeperUpdate({
      Id: qbo.Id,
      SyncToken: qbo.SyncToken,
      CustomerMemo: { value: 'Thank you for your business' },
    });
    assert.notEqual((await h.qboInvoice(id))!.SyncToken, remembered, 'the link now holds a stale SyncToken');
    await h.edit(id, () => ({
      invoiceItems: [{ name: 'Typesetting', currency: 'USD', amount: 64, qty: 2, taxes: [] }],
    }));
    await h.settle();
    const after = await eventually(
      async () => {
        const q = await h.qboInvoice(id);
        return q?.TotalAmt === 128 ? q : undefined;
      },
      30_000,
      'the edit after the bookkeeper',
    );
    assert.deepEqual(after.CustomerMemo, { value: 'Thank you for your business' }, "the bookkeeper's memo stays");
    assert.equal((await h.activity(id)).filter((a) => a.status === 'error').length, 0);
  });

  it('closes a balance difference once both sides agree again, found by the sweep without a new CRM change', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Ada', lastName: 'Balance', email: 'ada.balance@example.com' },
      items: [{ name: 'Audit', amount: 200 }],
      send: true,
    });
    await h.settle();
    const qbo = await h.waitForQboInvoice(id);
    // With the bookkeeper's payments recorded in the CRM (qboPayments.ts) the two sides would agree at once; this
    // is about a difference, which a connection with that toggle off can still have.
    await s.engine.connections.updateToggles(s.connection.id, { paymentsFromQuickBooks: false });
    s.engine.forget(s.connection.id);
    // A bookkeeper records 50 in QuickBooks on the invoice; the CRM then records its own 50.
    const bookkeeper = async (path: string, body: Rec): Promise<Rec> => {
      const token = s.qbo.admin.mintToken(s.realmId).access_token;
      const response = await fetch(`${s.qbo.url}/v3/company/${s.realmId}/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await response.json()) as Rec;
      if (!response.ok) throw new Error(`bookkeeper ${path}: ${response.status} ${JSON.stringify(json)}`);
      return json.Payment as Rec;
    };
    const theirs = await bookkeeper('payment?minorversion=75', {
      CustomerRef: qbo.CustomerRef,
      TotalAmt: 50,
      Line: [{ Amount: 50, LinkedTxn: [{ TxnId: qbo.Id, TxnType: 'Invoice' }] }],
    });
    await h.pay(id, 50);
    await h.settle();
    const differs = (await h.activity(id)).filter((a) => a.status === 'error' && a.resolvedAt === null);
    assert.equal(differs.length, 1, 'the difference is reported');
    assert.match(differs[0]!.message, /balance of 100 USD, but CRM invoice .* has 150\.00 USD due/);
    // The bookkeeper deletes their payment: the balances agree, with no change on the CRM side.
    await bookkeeper('payment?operation=delete&minorversion=75', { Id: theirs.Id, SyncToken: theirs.SyncToken });
    assert.equal((await h.qboInvoice(id))!.Balance, 150);
    const swept = await sweepInvoices(s.engine.contextFor(s.connection), { minIntervalMs: 0 });
    assert.ok(swept.enqueued >= 1, 'the sweep offers the invoice with an open difference');
    await h.settle();
    const open = (await h.activity(id)).filter((a) => a.status === 'error' && a.resolvedAt === null);
    assert.deepEqual(
      open.map((a) => a.message),
      [],
      'the difference is closed',
    );
    assert.equal(h.paymentsOf(String(qbo.Id)).length, 1, 'no payment written twice');
    await s.engine.connections.updateToggles(s.connection.id, { paymentsFromQuickBooks: true });
    s.engine.forget(s.connection.id);
  });

  it('never syncs an invoice created before the connection date, even once sent and paid', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Old', lastName: 'Invoice', email: 'old.invoice@example.com' },
      items: [{ name: 'Legacy work', amount: 70 }],
    });
    await h.settle();
    // Seen by a job as if the connection had been made an hour later.
    const later = { ...s.connection, connectedAt: new Date(Date.now() + 3_600_000) };
    await syncInvoice(s.engine.contextFor(later), id);
    await h.send(id);
    await h.pay(id);
    await h.settle();
    await sweepInvoices(s.engine.contextFor(s.connection), { minIntervalMs: 0 });
    await h.settle();
    assert.equal(h.invoices().filter((i) => String(i.PrivateNote ?? '').includes(id)).length, 0);
    assert.equal((await h.link(id))?.state, 'skipped');
    assert.ok((await h.activity(id)).some((a) => a.status === 'skipped' && /before the connection/.test(a.message)));
  });

  it('the sweep catches up on an invoice whose webhooks were dropped (sent, then partly paid)', async () => {
    s.hl.core.faults.configure({ rules: [], webhooks: { drop: 1 } });
    const { id } = await h.createInvoice({
      contact: { firstName: 'Lost', lastName: 'Webhook', email: 'lost.webhook@example.com' },
      items: [{ name: 'Consulting', amount: 200 }],
      send: true,
    });
    await h.pay(id, 75);
    await h.settle();
    s.hl.core.faults.clear();
    assert.equal(await h.qboInvoice(id), undefined, 'no webhook arrived');
    const result = await sweepInvoices(s.engine.contextFor(s.connection), { minIntervalMs: 0 });
    assert.ok(result.enqueued >= 1);
    await h.settle();
    const qbo = await h.waitForQboInvoice(id, 'the invoice found by the sweep');
    assert.equal(qbo.Balance, 125);
    // Paid in full, webhook dropped again: the next sweep sees the link's invoice left the open ones.
    s.hl.core.faults.configure({ rules: [], webhooks: { drop: 1 } });
    await h.pay(id);
    await h.settle();
    s.hl.core.faults.clear();
    await sweepInvoices(s.engine.contextFor(s.connection), { minIntervalMs: 0 });
    await h.settle();
    assert.equal((await h.qboInvoice(id))!.Balance, 0);
    // Nothing changed since: a further sweep enqueues nothing for it.
    const again = await sweepInvoices(s.engine.contextFor(s.connection), { minIntervalMs: 0 });
    await h.settle();
    assert.equal(h.paymentsOf(String(qbo.Id)).length, 2);
    assert.equal(again.enqueued, 0);
  });

  it('the sweep records the money of an invoice paid in part and voided while every webhook was lost', async () => {
    s.hl.core.faults.configure({ rules: [], webhooks: { drop: 1 } });
    const { id } = await h.createInvoice({
      contact: { firstName: 'Quiet', lastName: 'Void', email: 'quiet.void@example.com' },
      items: [{ name: 'Consulting', amount: 120 }],
      send: true,
    });
    await h.pay(id, 30);
    await h.voidInCrm(id);
    await h.settle();
    s.hl.core.faults.clear();
    const swept = await sweepInvoices(s.engine.contextFor(s.connection), { minIntervalMs: 0 });
    await h.settle();
    assert.ok(swept.enqueued >= 1);
    const qbo = await h.waitForQboInvoice(id);
    assert.equal(qbo.TotalAmt, 0, 'voided');
    const payment = h.payments().find((p) => String(p.PrivateNote ?? '').includes(id));
    assert.equal(payment?.TotalAmt, 30);
    assert.equal(payment?.UnappliedAmt, 30);
  });

  it('refuses an invoice in a currency the QuickBooks company cannot take, with a clear error', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Euro', lastName: 'Client', email: 'euro@example.com' },
      items: [{ name: 'Workshop', amount: 100 }],
      currency: 'EUR',
      send: true,
    });
    await h.settle();
    const error = await eventually(
      async () => (await h.activity(id)).find((a) => a.status === 'error'),
      20_000,
      'the error',
    );
    assert.match(error.message, /is in EUR, but the QuickBooks company works in USD only/);
    assert.match(String(error.detail?.fix), /multicurrency/);
    assert.equal(error.retry?.queue, QUEUES.crmInvoice);
    assert.equal(await h.qboInvoice(id), undefined);
    // The sweep leaves it to the Retry button rather than repeating the same error every few minutes.
    const errors = (await h.activity(id)).filter((a) => a.status === 'error').length;
    await sweepInvoices(s.engine.contextFor(s.connection), { minIntervalMs: 0 });
    await h.settle();
    assert.equal((await h.activity(id)).filter((a) => a.status === 'error').length, errors);
  });

  it('refuses an invoice number longer than QuickBooks allows, naming the fix', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Long', lastName: 'Number', email: 'long.number@example.com' },
      items: [{ name: 'Workshop', amount: 10 }],
    });
    await h.edit(id, () => ({ invoiceNumber: 'PROJECT-2026-ALPHA-000001' }));
    await h.send(id);
    await h.settle();
    const error = await eventually(
      async () => (await h.activity(id)).find((a) => a.status === 'error'),
      20_000,
      'the error',
    );
    assert.match(error.message, /25 characters; QuickBooks allows 21/);
    assert.equal(await h.qboInvoice(id), undefined);
  });

  it('names the clash when a bookkeeper already used the invoice number in QuickBooks', async () => {
    const token = s.qbo.admin.mintToken(s.realmId).access_token;
    const customer = s.qbo.admin.listEntities(s.realmId, 'Customer')[0]!;
    const made = await fetch(`${s.qbo.url}/v3/company/${s.realmId}/invoice?minorversion=75`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        DocNumber: 'DUP-1',
        CustomerRef: { value: customer.Id },
        Line: [
          {
            DetailType: 'SalesItemLineDetail',
            Amount: 5,
            SalesItemLineDetail: { ItemRef: { value: '1' }, Qty: 1, UnitPrice: 5 },
          },
        ],
      }),
    });
    assert.equal(made.status, 200, await made.clone().text());
    const { id } = await h.createInvoice({
      contact: { firstName: 'Same', lastName: 'Number', email: 'same.number@example.com' },
      items: [{ name: 'Workshop', amount: 10 }],
    });
    await h.edit(id, () => ({ invoiceNumber: 'DUP-1' }));
    await h.send(id);
    await h.settle();
    const error = await eventually(
      async () => (await h.activity(id)).find((a) => a.status === 'error'),
      20_000,
      'the error',
    );
    assert.match(error.message, /already has another invoice numbered DUP-1/);
    assert.match(String(error.detail?.fix), /Renumber/);
  });

  it('refuses an invoice with more lines than QuickBooks accepts, before creating anything', async () => {
    const items = Array.from({ length: 751 }, () => ({ name: 'Hour of support', amount: 1 }));
    const { id } = await h.createInvoice({
      contact: { firstName: 'Many', lastName: 'Lines', email: 'many.lines@example.com' },
      items,
      send: true,
    });
    await h.settle();
    const error = await eventually(
      async () => (await h.activity(id)).find((a) => a.status === 'error'),
      20_000,
      'the error',
    );
    assert.match(error.message, /751 lines; QuickBooks accepts at most 750/);
    assert.equal(await h.qboInvoice(id), undefined);
  });

  it('shortens long item names and keeps line descriptions', async () => {
    const name = `Premium: ${'very '.repeat(30)}long service`;
    const { id } = await h.createInvoice({
      contact: { firstName: 'Long', lastName: 'Names', email: 'long.names@example.com' },
      items: [{ name, amount: 12.34, qty: 3 }],
      send: true,
    });
    await h.settle();
    const qbo = await h.waitForQboInvoice(id);
    const line = (qbo.Line as Rec[]).find((l) => l.DetailType === 'SalesItemLineDetail')!;
    assert.equal(line.Description, name);
    const item = s.qbo.admin
      .listEntities(s.realmId, 'Item')
      .find((i) => i.Id === ((line.SalesItemLineDetail as Rec).ItemRef as Rec).value)!;
    assert.ok(String(item.Name).length <= 100 && !String(item.Name).includes(':'), String(item.Name));
    assert.equal(qbo.TotalAmt, 37.02);
  });

  it('syncs a 100% discounted invoice with a zero line as a zero invoice', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Free', lastName: 'Lunch', email: 'free.lunch@example.com' },
      items: [
        { name: 'Onboarding', amount: 150 },
        { name: 'Welcome gift', amount: 0 },
      ],
      discount: { type: 'percentage', value: 100 },
      send: true,
    });
    await h.settle();
    const qbo = await h.waitForQboInvoice(id);
    assert.equal(qbo.TotalAmt, 0);
    assert.equal(qbo.Balance, 0);
  });
});

describe('CRM invoices in a Canadian QuickBooks company (GST/HST tax codes)', () => {
  let s: Stack;
  const h = helpers(() => s);

  before(async () => {
    s = await startStack({ country: 'CA' });
  });
  after(async () => {
    await s.close();
  });

  it('writes tax codes, a discount line and TaxExcluded, and QuickBooks totals the same as the CRM', async () => {
    const { id } = await h.createInvoice({
      contact: { firstName: 'Pierre', lastName: 'Trudeau', email: 'pierre@example.ca' },
      items: [
        { name: 'Consulting (Ontario)', amount: 1000, qty: 1, taxes: [{ name: 'HST ON', rate: 13 }] },
        { name: 'Course (federal)', amount: 199.99, qty: 2, taxes: [{ name: 'GST', rate: 5 }] },
      ],
      discount: { type: 'percentage', value: 10 },
      send: true,
    });
    await h.settle();
    const qbo = await h.waitForQboInvoice(id);
    const crm = await h.hl().invoices.get(id);
    assert.equal(crm.currency, 'CAD');
    assert.equal(qbo.GlobalTaxCalculation, 'TaxExcluded');
    const codes = new Map(s.qbo.admin.listEntities(s.realmId, 'TaxCode').map((c) => [c.Id, c.Name]));
    const lines = (qbo.Line as Rec[]).filter((l) => l.DetailType === 'SalesItemLineDetail');
    assert.deepEqual(
      lines.map((l) => codes.get(String(((l.SalesItemLineDetail as Rec).TaxCodeRef as Rec).value))),
      ['HST ON', 'GST'],
    );
    assert.ok((qbo.Line as Rec[]).some((l) => l.DetailType === 'DiscountLineDetail'));
    assert.equal(qbo.TotalAmt, crm.total);
    assert.equal((await h.activity(id)).filter((a) => a.status === 'error').length, 0);

    await h.pay(id, 500);
    await h.settle();
    const paid = (await h.qboInvoice(id))!;
    assert.equal(paid.Balance, (await h.hl().invoices.get(id)).amountDue);
    assert.ok((await h.activity(id)).some((a) => a.message.startsWith('Recorded payment of 500.00 CAD')));
  });

  it('reports a QuickBooks total that differs from the CRM total as an error with both figures, never silently', async () => {
    // A (wrong) mapping chosen in the connection settings: the CRM's HST 13% written with QuickBooks' GST 5% code.
    const gst = s.qbo.admin.listEntities(s.realmId, 'TaxCode').find((c) => c.Name === 'GST')!;
    await s.engine.connections.updateSettings(s.connection.id, { taxCodeMapping: { 'hst on|13': String(gst.Id) } });
    try {
      const { id } = await h.createInvoice({
        contact: { firstName: 'Wrong', lastName: 'Mapping', email: 'wrong.mapping@example.ca' },
        items: [{ name: 'Consulting (Ontario)', amount: 100, taxes: [{ name: 'HST ON', rate: 13 }] }],
        send: true,
      });
      await h.settle();
      const qbo = await h.waitForQboInvoice(id);
      assert.equal(qbo.TotalAmt, 105);
      const error = await eventually(
        async () => (await h.activity(id)).find((a) => a.status === 'error' && a.resolvedAt === null),
        20_000,
        'the mismatch error',
      );
      assert.match(error.message, /totals 105 CAD, but CRM invoice .* totals 113\.00 CAD/);
      assert.equal(error.detail?.crmTotal, 113);
      assert.equal(error.detail?.quickbooksTotal, 105);
    } finally {
      await s.engine.connections.updateSettings(s.connection.id, { taxCodeMapping: {} });
    }
  });
});
