// Pause, act on either side, Resume: what happened while paused arrives, on every flow. Each case acts as people
// do (the dashboard's Sandbox tab, HighLevel's and QuickBooks' APIs) right after the periodic polls and sweeps ran,
// as they do every minute, so a catch-up that waits for its next interval shows as a record that does not arrive.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { emulatorAdmin, type Rec } from '../support/emulatorAdmin.ts';
import { buildServer } from '../../src/server/app.ts';
import { findLinkByCrmId, findLinkByQboId } from '../../src/store/links.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';

const PASSWORD = 'paused and resumed, nothing lost';
/** How long a record may take to arrive after Resume: the jobs run at once, no interval is waited for. */
const ARRIVES_MS = 20_000;

describe('Resume catches up on everything that happened while paused', () => {
  let s: Stack;
  let dashboard: FastifyInstance;
  let url = '';
  let cookie = '';
  let itemId = '';

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
  const base = () => `/api/connections/${s.connection.id}`;
  const crm = (path: string, body: unknown = {}) => emulatorAdmin(s.hl.url, 'POST', path, body);
  const settle = async () => {
    await s.hl.flushWebhooks();
    await s.qbo.admin.webhooks.flush();
    await s.engine.queue.idle(Object.values(QUEUES), 60_000);
  };
  /** The periodic polls and sweeps run (as every minute), then the user pauses, `act`s, and resumes. */
  const whilePaused = async <T>(act: () => Promise<T>): Promise<T> => {
    await s.engine.enqueuePolls();
    await settle();
    assert.equal((await call('POST', `${base()}/pause`)).status, 'paused');
    // Resumed even when `act` fails, so that one failing flow does not leave the next test a paused connection.
    try {
      const result = await act();
      await settle();
      return result;
    } finally {
      assert.equal((await call('POST', `${base()}/resume`)).status, 'connected');
    }
  };
  const receiptsOf = (transactionId: unknown) =>
    s.qbo.admin
      .listEntities(s.realmId, 'SalesReceipt')
      .filter((r) => String(r.PrivateNote ?? '').includes(String(transactionId)));
  const qboInvoiceOf = async (invoiceId: string) => {
    const link = await findLinkByCrmId(s.t.db, s.connection.id, 'invoice', invoiceId);
    return link?.qboId ? s.qbo.admin.listEntities(s.realmId, 'Invoice').find((i) => i.Id === link.qboId) : undefined;
  };
  const contactByEmail = (email: string) =>
    [...s.hl.core.store.contacts.values()].find((c) => c.locationId === s.locationId && c.email === email);
  const card = { brand: 'visa', last4: '4242' };

  before(async () => {
    s = await startStack({
      country: 'US',
      qbo: { limits: false },
      hl: { limitFactor: Infinity },
      engine: { limits: false },
      connect: { reviewRequests: true },
    });
    dashboard = await buildServer(s.engine, {
      dashboard: {
        sandbox: { quickbooksUrl: s.qbo.url, highlevelUrl: s.hl.url },
        initialAdmin: { username: 'admin', password: PASSWORD },
      },
    });
    await dashboard.listen({ port: 0, host: '127.0.0.1' });
    const address = dashboard.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const login = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    assert.equal(login.status, 200);
    cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const income = s.qbo.admin.listEntities(s.realmId, 'Account').find((a) => a.AccountType === 'Income')!;
    itemId = String(
      s.qbo.admin.accounting.create(s.qbo.admin.company(s.realmId)!, 'Item', {
        Name: 'Bookkeeping',
        Type: 'Service',
        IncomeAccountRef: { value: income.Id },
      }).Id,
    );
    await settle();
  });
  after(async () => {
    await dashboard?.close();
    await s?.close();
  });

  it('an invoice sent from the Sandbox tab while paused reaches QuickBooks after Resume', async () => {
    const before = new Set(s.hl.core.store.invoices.keys());
    await whilePaused(async () => {
      await call('POST', `${base()}/sandbox/send-invoice`, {
        firstName: 'Sandy',
        lastName: 'Box',
        email: 'sandy@example.com',
        lines: [{ item: 'Audit', amount: 120 }],
      });
    });
    const invoice = [...s.hl.core.store.invoices.values()].find(
      (i) => !before.has(i.id) && i.locationId === s.locationId,
    )!;
    assert.equal(invoice.status, 'sent');
    const qbo = await eventually(() => qboInvoiceOf(invoice.id), ARRIVES_MS, 'the QuickBooks invoice after Resume');
    assert.equal(qbo.TotalAmt, 120);
  });

  it('an invoice created and sent through the API while paused reaches QuickBooks after Resume', async () => {
    const hl = s.engine.contextFor(s.connection).hl;
    const contact = await crm(`/locations/${s.locationId}/actions/contact`, {
      firstName: 'Api',
      lastName: 'User',
      email: 'api-invoice@example.com',
    });
    await settle();
    const id = await whilePaused(async () => {
      const created = await hl.invoices.create({
        name: 'Invoice',
        currency: 'USD',
        issueDate: new Date().toISOString().slice(0, 10),
        liveMode: true,
        businessDetails: { name: 'Agency' },
        discount: { type: 'fixed', value: 0 },
        contactDetails: {
          id: String(contact.contactId),
          name: 'Api User',
          email: 'api-invoice@example.com',
          phoneNo: '',
        },
        items: [{ name: 'Retainer', currency: 'USD', amount: 80, qty: 1 }],
        sentTo: { email: ['api-invoice@example.com'] },
      });
      await hl.invoices.send(created._id, { userId: 'agency-user', action: 'send_manually', liveMode: true });
      return created._id;
    });
    const qbo = await eventually(() => qboInvoiceOf(id), ARRIVES_MS, 'the QuickBooks invoice after Resume');
    assert.equal(qbo.TotalAmt, 80);
  });

  it('an invoice edited and one paid while paused are brought up to date after Resume', async () => {
    const edited = await crm(`/locations/${s.locationId}/actions/invoice`, {
      contact: { firstName: 'Ed', lastName: 'Ited', email: 'edited@example.com' },
      items: [{ name: 'Design', amount: 200 }],
      send: true,
    });
    const paid = await crm(`/locations/${s.locationId}/actions/invoice`, {
      contact: { firstName: 'Pay', lastName: 'Ed', email: 'paid@example.com' },
      items: [{ name: 'Design', amount: 300 }],
      send: true,
    });
    await settle();
    await eventually(() => qboInvoiceOf(String(edited.invoiceId)), ARRIVES_MS, 'the first invoice');
    await eventually(() => qboInvoiceOf(String(paid.invoiceId)), ARRIVES_MS, 'the second invoice');
    const hl = s.engine.contextFor(s.connection).hl;
    await whilePaused(async () => {
      const current = await hl.invoices.get(String(edited.invoiceId));
      await hl.invoices.update(current._id, {
        name: current.name ?? 'Invoice',
        currency: current.currency,
        issueDate: current.issueDate ?? '',
        dueDate: current.dueDate ?? current.issueDate ?? '',
        invoiceItems: [{ name: 'Design', currency: current.currency, amount: 250, qty: 1 }],
      } as Parameters<typeof hl.invoices.update>[1]);
      await crm(`/invoices/${String(paid.invoiceId)}/record-payment`, { mode: 'cash' });
    });
    await eventually(
      async () => ((await qboInvoiceOf(String(edited.invoiceId)))?.TotalAmt === 250 ? true : undefined),
      ARRIVES_MS,
      'the edit after Resume',
    );
    await eventually(
      async () => ((await qboInvoiceOf(String(paid.invoiceId)))?.Balance === 0 ? true : undefined),
      ARRIVES_MS,
      'the payment after Resume',
    );
  });

  it('payments of every kind taken while paused get their sales receipts after Resume', async () => {
    const taken = await whilePaused(async () => {
      await call('POST', `${base()}/sandbox/take-payment`, {
        firstName: 'Order',
        lastName: 'Form',
        email: 'order-form@example.com',
        lines: [{ item: 'Workshop', amount: 49 }],
      });
      const order = [...s.hl.core.store.transactions.values()].find(
        (t) => t.contactSnapshot.email === 'order-form@example.com',
      )!;
      const subscription = await crm(`/locations/${s.locationId}/actions/subscription`, {
        contact: { firstName: 'Sub', lastName: 'Scriber', email: 'subscriber@example.com' },
        product: { name: 'Monthly plan', amount: 29 },
        card,
      });
      const renewal = await crm(`/subscriptions/${String(subscription.subscriptionId)}/renew`, {});
      const membership = await crm(`/locations/${s.locationId}/actions/membership`, {
        contact: { firstName: 'Mem', lastName: 'Ber', email: 'member@example.com' },
        offer: { name: 'Gold membership', amount: 199 },
        card,
      });
      const booking = await crm(`/locations/${s.locationId}/actions/calendar-payment`, {
        contact: { firstName: 'Book', lastName: 'Ing', email: 'booking@example.com' },
        service: { name: 'Strategy call', amount: 75 },
        card,
      });
      assert.equal(receiptsOf(order.id).length, 0, 'nothing written while paused');
      return [
        [order.id, 49],
        [subscription.transactionId, 29],
        [renewal.transactionId, 29],
        [membership.transactionId, 199],
        [booking.transactionId, 75],
      ] as const;
    });
    for (const [transactionId, total] of taken) {
      const receipt = await eventually(
        () => receiptsOf(transactionId)[0],
        ARRIVES_MS,
        `the receipt of ${String(transactionId)}`,
      );
      assert.equal(receipt.TotalAmt, total);
    }
  });

  it('a refund made while paused gets its refund receipt after Resume', async () => {
    const paid = await crm(`/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { firstName: 'Re', lastName: 'Fund', email: 'paused-refund@example.com' },
      items: [{ name: 'Course', amount: 100 }],
    });
    await settle();
    await eventually(() => receiptsOf(paid.transactionId)[0], ARRIVES_MS, 'the receipt');
    await whilePaused(() => crm(`/transactions/${String(paid.transactionId)}/refund`, { amount: 30 }));
    const refund = await eventually(
      () =>
        s.qbo.admin
          .listEntities(s.realmId, 'RefundReceipt')
          .find((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))),
      ARRIVES_MS,
      'the refund receipt',
    );
    assert.equal(refund.TotalAmt, 30);
  });

  it("a contact's edit in the CRM while paused reaches its QuickBooks customer after Resume", async () => {
    const paid = await crm(`/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { firstName: 'Phil', lastName: 'Phone', email: 'phone@example.com' },
      items: [{ name: 'Course', amount: 10 }],
    });
    await settle();
    const link = await eventually(
      async () => {
        const l = await findLinkByCrmId(s.t.db, s.connection.id, 'customer', String(paid.contactId));
        return l?.state === 'linked' ? l : undefined;
      },
      ARRIVES_MS,
      'the customer',
    );
    const token = s.hl.mintToken(s.locationId).access_token;
    await whilePaused(async () => {
      const r = await fetch(`${s.hl.url}/contacts/${String(paid.contactId)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, version: '2021-07-28', 'content-type': 'application/json' },
        body: JSON.stringify({ phone: '+15550104444' }),
      });
      assert.equal(r.status, 200, await r.text());
    });
    const customer = () => s.qbo.admin.listEntities(s.realmId, 'Customer').find((c) => c.Id === link.qboId);
    await eventually(
      () => ((customer()?.PrimaryPhone as Rec | undefined)?.FreeFormNumber === '+15550104444' ? true : undefined),
      ARRIVES_MS,
      'the phone after Resume',
    );
  });

  it('a customer added in QuickBooks while paused becomes a CRM contact after Resume', async () => {
    await whilePaused(() =>
      call('POST', `${base()}/sandbox/add-customer`, {
        displayName: 'Booked While Paused',
        email: 'qbo-paused@example.com',
      }),
    );
    await eventually(() => contactByEmail('qbo-paused@example.com'), ARRIVES_MS, 'the contact after Resume');
  });

  it('keeps what arrived during a long pause past the inbox retention, and syncs it on Resume', async () => {
    await whilePaused(async () => {
      await call('POST', `${base()}/sandbox/add-customer`, {
        displayName: 'Paused For Months',
        email: 'long-pause@example.com',
      });
      await settle();
      const held = await s.t.db.query(
        `UPDATE inbox SET received_at = now() - interval '200 days' WHERE connection_id = $1 AND status = 'held' RETURNING id`,
        [s.connection.id],
      );
      assert.ok(held.rows.length >= 1, 'the event is held');
      await s.engine.pruneHistory();
      assert.equal(
        (await s.t.db.query(`SELECT 1 FROM inbox WHERE connection_id = $1 AND status = 'held'`, [s.connection.id])).rows
          .length,
        held.rows.length,
        'none pruned',
      );
    });
    await eventually(() => contactByEmail('long-pause@example.com'), ARRIVES_MS, 'the contact after Resume');
  });

  it('a first invoice paid in full in QuickBooks while paused asks for its review after Resume', async () => {
    const customer = (
      await call('POST', `${base()}/sandbox/add-customer`, {
        displayName: 'Review While Paused',
        email: 'review-paused@example.com',
      })
    ).message as string;
    const customerId = /customer (\d+)/.exec(customer)![1]!;
    await settle();
    const contactLink = await eventually(
      async () => {
        const l = await findLinkByQboId(s.t.db, s.connection.id, 'customer', customerId);
        return l?.state === 'linked' ? l : undefined;
      },
      ARRIVES_MS,
      'the contact',
    );
    const invoice = s.qbo.admin.accounting.create(s.qbo.admin.company(s.realmId)!, 'Invoice', {
      CustomerRef: { value: customerId },
      TxnDate: '2026-01-05',
      Line: [
        {
          Amount: 90,
          DetailType: 'SalesItemLineDetail',
          SalesItemLineDetail: { ItemRef: { value: itemId }, Qty: 1, UnitPrice: 90, TaxCodeRef: { value: 'NON' } },
        },
      ],
    });
    await settle();
    await whilePaused(() => call('POST', `${base()}/sandbox/mark-invoice-paid`, { invoiceId: String(invoice.Id) }));
    const messages = async () =>
      (await emulatorAdmin(s.hl.url, 'GET', `/activity?locationId=${s.locationId}&contactId=${contactLink.crmId}`))
        .messages as Rec[];
    await eventually(
      async () => ((await messages()).length > 0 ? true : undefined),
      ARRIVES_MS,
      'the review request after Resume',
    );
  });
});
