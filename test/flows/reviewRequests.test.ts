import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { Engine } from '../../src/sync/engine/engine.ts';
import { findLinkByQboId } from '../../src/store/links.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { pollQuickBooksChanges } from '../../src/sync/services/changeCapture.ts';
import {
  earliestInvoice,
  isPaidInFull,
  resumeWaitingReviewRequests,
  reviewText,
} from '../../src/sync/flows/reviewRequests.ts';
import { listActivity } from '../../src/store/activity.ts';

type Rec = Record<string, unknown>;
const QUEUES_USED = [
  QUEUES.qboCustomer,
  QUEUES.qboInvoice,
  QUEUES.crmContact,
  QUEUES.crmInvoice,
  QUEUES.importCustomers,
  QUEUES.pollQboChanges,
];

describe('review requests: the first QuickBooks invoice paid in full asks the contact for a review, once', () => {
  let s: Stack;
  let engine: Engine;
  let itemId = '';
  const company = () => s.qbo.admin.company(s.realmId)!;
  const create = (entity: 'Customer' | 'Invoice' | 'Payment' | 'Item', body: Rec) =>
    s.qbo.admin.accounting.create(company(), entity, body);
  const activity = async () =>
    (await fetch(`${s.hl.url}/_emulator/activity?locationId=${s.locationId}`)).json() as Promise<{
      enrolments: Rec[];
      messages: Rec[];
      tagChanges: Rec[];
    }>;
  const settle = async () => {
    await s.qbo.admin.webhooks.flush();
    await s.hl.flushWebhooks();
    await engine.queue.idle(QUEUES_USED, 30_000);
  };
  let phones = 100;
  const customerWithInvoices = (email: string, amounts: Array<{ amount: number; date: string }>) => {
    const customer = create('Customer', {
      DisplayName: email,
      PrimaryEmailAddr: { Address: email },
      PrimaryPhone: { FreeFormNumber: `+1555010${String(phones++).padStart(4, '0')}` },
    });
    const invoices = amounts.map(({ amount, date }) =>
      create('Invoice', {
        CustomerRef: { value: customer.Id },
        TxnDate: date,
        Line: [
          {
            Amount: amount,
            DetailType: 'SalesItemLineDetail',
            SalesItemLineDetail: {
              ItemRef: { value: itemId },
              Qty: 1,
              UnitPrice: amount,
              TaxCodeRef: { value: 'NON' },
            },
          },
        ],
      }),
    );
    return { customer, invoices };
  };
  const pay = (customer: Rec, invoice: Rec, amount: number) =>
    create('Payment', {
      CustomerRef: { value: customer.Id },
      TotalAmt: amount,
      Line: [{ Amount: amount, LinkedTxn: [{ TxnId: invoice.Id, TxnType: 'Invoice' }] }],
    });
  const admin = async (method: string, path: string, body?: Rec) => {
    const r = await fetch(`${s.hl.url}/_emulator${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()) as Rec;
  };
  /** A workflow built in HighLevel's builder (the emulator's admin API stands in for it). */
  const buildWorkflow = async (name: string) =>
    (await admin('POST', `/locations/${s.locationId}/workflows`, { name })).workflow as Rec & {
      id: string;
      name: string;
    };
  const payFirstInvoice = async (email: string, amount: number) => {
    const { customer, invoices } = customerWithInvoices(email, [{ amount, date: '2026-01-01' }]);
    const contactId = await contactOf(customer);
    pay(customer, invoices[0]!, amount);
    await engine.queue.enqueue(QUEUES.qboInvoice, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:qbo-invoice:${String(invoices[0]!.Id)}`,
      invoiceId: invoices[0]!.Id,
    });
    await settle();
    return { contactId, invoiceId: String(invoices[0]!.Id) };
  };
  const contactOf = async (customer: Rec) => {
    await eventually(
      async () =>
        (await findLinkByQboId(s.t.db, s.connection.id, 'customer', String(customer.Id)))?.state === 'linked'
          ? true
          : undefined,
      30_000,
      'the contact',
    );
    return (await findLinkByQboId(s.t.db, s.connection.id, 'customer', String(customer.Id)))!.crmId;
  };

  before(async () => {
    s = await startStack({
      country: 'US',
      qbo: { limits: false },
      hl: { limitFactor: Infinity },
      engine: { limits: false },
      connect: { reviewRequests: true },
    });
    engine = s.engine;
    const income = s.qbo.admin.listEntities(s.realmId, 'Account').find((a) => a.AccountType === 'Income')!;
    itemId = String(create('Item', { Name: 'Consulting', Type: 'Service', IncomeAccountRef: { value: income.Id } }).Id);
  });
  after(async () => {
    if (engine !== s.engine) await engine.stop();
    await s.close();
  });

  it('knows paid in full and first', () => {
    assert.equal(isPaidInFull({ TotalAmt: 100, Balance: 0 }), true);
    assert.equal(isPaidInFull({ TotalAmt: 100, Balance: 0.01 }), false);
    assert.equal(isPaidInFull({ TotalAmt: 0, Balance: 0 }), false, 'a voided or empty invoice is not "paid"');
    const first = earliestInvoice([
      { Id: '12', TxnDate: '2026-02-01', TotalAmt: 5 },
      { Id: '9', TxnDate: '2026-01-15', TotalAmt: 0 },
      { Id: '10', TxnDate: '2026-01-20', TotalAmt: 5 },
      { Id: '2', TxnDate: '2026-01-20', TotalAmt: 5 },
    ]);
    assert.equal(first?.Id, '2');
  });

  it('builds the message text around the review link, or asks for a reply without one', () => {
    assert.equal(
      reviewText(undefined, 'https://g.page/r/x/review'),
      'Thank you for your business! Would you take a minute to review us? https://g.page/r/x/review',
    );
    assert.equal(
      reviewText('Review us: {link} thanks', 'https://x.example/r'),
      'Review us: https://x.example/r thanks',
    );
    assert.equal(reviewText('Review us please', 'https://x.example/r'), 'Review us please https://x.example/r');
    assert.match(reviewText(undefined, undefined), /reply to this message/);
  });

  it('on a location with no workflows, asks by a direct SMS by default, with no setup', async () => {
    assert.equal(
      [...s.hl.core.store.workflows.values()].filter((w) => w.locationId === s.locationId).length,
      0,
      'a new location has no workflows',
    );
    assert.deepEqual(s.connection.settings.reviewRequest, { method: 'message', channel: 'auto' });
    const { contactId } = await payFirstInvoice('rosalind@example.com', 45);
    const messages = (await activity()).messages.filter((m) => m.contactId === contactId);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.type, 'SMS');
    assert.match(String(messages[0]!.message), /tell us how we did/);
    const done = await listActivity(s.t.db, {
      connectionId: s.connection.id,
      flow: 'reviewRequests',
      status: 'ok',
      limit: 10,
    });
    assert.ok(
      done.some((e) => e.crmId === contactId && /direct SMS/.test(e.message)),
      'the activity says which mechanism asked',
    );
  });

  it('never asks when a later invoice is paid while the first is still open', async () => {
    const { customer, invoices } = customerWithInvoices('grace@example.com', [
      { amount: 100, date: '2026-01-01' },
      { amount: 40, date: '2026-03-01' },
    ]);
    const contactId = await contactOf(customer);
    pay(customer, invoices[1]!, 40);
    await engine.queue.enqueue(QUEUES.qboInvoice, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:qbo-invoice:${String(invoices[1]!.Id)}`,
      invoiceId: invoices[1]!.Id,
    });
    await settle();
    const seen = await activity();
    assert.equal(seen.enrolments.filter((e) => e.contactId === contactId).length, 0);
  });

  it('adds the chosen tag instead, when the connection says so', async () => {
    await engine.connections.updateSettings(s.connection.id, { reviewRequest: { method: 'tag', tag: 'review-me' } });
    const { customer, invoices } = customerWithInvoices('alan@example.com', [{ amount: 30, date: '2026-01-01' }]);
    const contactId = await contactOf(customer);
    pay(customer, invoices[0]!, 30);
    await engine.queue.enqueue(QUEUES.qboInvoice, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:qbo-invoice:${String(invoices[0]!.Id)}`,
      invoiceId: invoices[0]!.Id,
    });
    await settle();
    await eventually(
      () => (s.hl.core.store.contacts.get(contactId)?.tags.includes('review-me') ? true : undefined),
      10_000,
      'the tag',
    );
  });

  it('sends an SMS with the review link, once, recording its message id', async () => {
    await engine.connections.updateSettings(s.connection.id, {
      reviewRequest: { method: 'message', channel: 'SMS', reviewLink: 'https://g.page/r/example/review' },
    });
    const { customer, invoices } = customerWithInvoices('hedy@example.com', [{ amount: 60, date: '2026-01-01' }]);
    const contactId = await contactOf(customer);
    pay(customer, invoices[0]!, 60);
    for (let i = 0; i < 3; i++) {
      await engine.queue.enqueue(QUEUES.qboInvoice, {
        connectionId: s.connection.id,
        key: `${s.connection.id}:qbo-invoice:${String(invoices[0]!.Id)}`,
        invoiceId: invoices[0]!.Id,
      });
      await settle();
    }
    const messages = (await activity()).messages.filter((m) => m.contactId === contactId);
    assert.equal(messages.length, 1);
    assert.match(String(messages[0]!.message), /https:\/\/g\.page\/r\/example\/review/);
    const row = await s.t.db.query<{ message_id: string }>(
      `SELECT message_id FROM review_requests WHERE contact_id = $1`,
      [contactId],
    );
    assert.equal(row.rows[0]!.message_id, messages[0]!.messageId);
  });

  it('asks when the first invoice is paid in the CRM and that payment is synced to QuickBooks', async () => {
    const workflow = await buildWorkflow('Thank-you and review');
    await engine.connections.updateSettings(s.connection.id, {
      reviewRequest: { method: 'workflow', workflowId: workflow.id, workflowName: workflow.name },
    });
    const post = async (path: string, body: Rec) => {
      const r = await fetch(`${s.hl.url}/_emulator${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(r.status, 200, await r.clone().text());
      return (await r.json()) as Rec;
    };
    const made = await post(`/locations/${s.locationId}/actions/invoice`, {
      contact: { email: 'crm.payer@example.com', firstName: 'Crm', lastName: 'Payer' },
      items: [{ name: 'Workshop', amount: 250 }],
      send: true,
    });
    await settle();
    await post(`/invoices/${String(made.invoiceId)}/record-payment`, { amount: 250 });
    const contactId = String((made.invoice as Rec & { contactDetails: Rec }).contactDetails.id);
    await eventually(
      async () => {
        await settle();
        return (await activity()).enrolments.some((e) => e.contactId === contactId) ? true : undefined;
      },
      30_000,
      'the review request after the CRM payment reached QuickBooks',
    );
    await settle();
    assert.equal((await activity()).enrolments.filter((e) => e.contactId === contactId).length, 1);
  });

  it("asks nothing when the connection's toggle is off", async () => {
    await engine.connections.updateToggles(s.connection.id, { reviewRequests: false });
    const { customer, invoices } = customerWithInvoices('katherine@example.com', [{ amount: 10, date: '2026-01-01' }]);
    const contactId = await contactOf(customer);
    pay(customer, invoices[0]!, 10);
    await engine.queue.enqueue(QUEUES.qboInvoice, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:qbo-invoice:${String(invoices[0]!.Id)}`,
      invoiceId: invoices[0]!.Id,
    });
    await settle();
    const seen = await activity();
    assert.equal(
      seen.enrolments.filter((e) => e.contactId === contactId).length +
        seen.messages.filter((m) => m.contactId === contactId).length,
      0,
    );
  });

  it('enrols the contact in the chosen workflow once, under duplicated events and a restart', async () => {
    await engine.connections.updateToggles(s.connection.id, { reviewRequests: true });
    const chosen = await buildWorkflow('Send Review Request');
    await engine.connections.updateSettings(s.connection.id, {
      reviewRequest: { method: 'workflow', workflowId: chosen.id, workflowName: chosen.name },
    });
    s.qbo.faults.configure({ rules: [], webhooks: { duplicate: 1 } });
    const { customer, invoices } = customerWithInvoices('ada@example.com', [
      { amount: 120, date: '2026-01-05' },
      { amount: 80, date: '2026-02-05' },
    ]);
    const contactId = await contactOf(customer);
    pay(customer, invoices[0]!, 50);
    await settle();
    assert.equal(
      (await activity()).enrolments.filter((e) => e.contactId === contactId).length,
      0,
      'a partial payment asks nothing',
    );
    pay(customer, invoices[0]!, 70);
    await settle();
    const workflow = (await activity()).enrolments.filter((e) => e.contactId === contactId);
    assert.equal(workflow.length, 1);
    assert.equal(workflow[0]!.workflowId, chosen.id);

    // A restart: a new Engine on the same store sees the same events again (change data capture, and jobs queued twice).
    s.qbo.faults.clear();
    await engine.stop();
    engine = await Engine.create(s.engineOptions);
    await engine.startWorkers({ pollers: false });
    const ctx = engine.contextFor(s.connection);
    await engine.queue.enqueue(QUEUES.qboInvoice, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:qbo-invoice:${String(invoices[0]!.Id)}`,
      invoiceId: invoices[0]!.Id,
    });
    await pollQuickBooksChanges(ctx);
    // And the second invoice is paid too: not the first, so no second request.
    pay(customer, invoices[1]!, 80);
    await engine.queue.enqueue(QUEUES.qboInvoice, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:qbo-invoice:${String(invoices[1]!.Id)}`,
      invoiceId: invoices[1]!.Id,
    });
    await settle();
    assert.equal(
      (await activity()).enrolments.filter((e) => e.contactId === contactId).length,
      1,
      'still exactly one request',
    );
    const rows = await s.t.db.query<{ state: string; qbo_invoice_id: string }>(
      `SELECT state, qbo_invoice_id FROM review_requests WHERE contact_id = $1`,
      [contactId],
    );
    assert.deepEqual(rows.rows, [{ state: 'sent', qbo_invoice_id: String(invoices[0]!.Id) }]);
  });
  it('stops with one clear error when the chosen workflow was deleted, and sends the waiting requests once the settings are saved', async () => {
    const doomed = await buildWorkflow('Old review flow');
    await engine.connections.updateSettings(s.connection.id, {
      reviewRequest: { method: 'workflow', workflowId: doomed.id, workflowName: doomed.name },
    });
    await admin('DELETE', `/workflows/${doomed.id}`);
    const first = await payFirstInvoice('barbara@example.com', 25);
    const second = await payFirstInvoice('frances@example.com', 35);
    // A retry of the same job (a duplicated event) adds nothing either.
    await engine.queue.enqueue(QUEUES.qboInvoice, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:qbo-invoice:${first.invoiceId}`,
      invoiceId: first.invoiceId,
    });
    await settle();

    const errors = await listActivity(s.t.db, {
      connectionId: s.connection.id,
      flow: 'reviewRequests',
      openErrorsOnly: true,
      limit: 50,
    });
    assert.equal(errors.length, 1, errors.map((e) => e.message).join('\n'));
    assert.match(errors[0]!.message, /workflow "Old review flow" .* no longer exists/);
    assert.match(String(errors[0]!.detail?.fix), /choose another workflow, or the direct SMS\/email/);
    const seen = await activity();
    assert.equal(
      seen.enrolments.filter((e) => e.contactId === first.contactId || e.contactId === second.contactId).length,
      0,
    );
    assert.equal(
      seen.messages.filter((m) => m.contactId === first.contactId || m.contactId === second.contactId).length,
      0,
    );

    // The fix: another mechanism chosen and saved (the dashboard calls the same function); both requests go out, once.
    await engine.connections.updateSettings(s.connection.id, {
      reviewRequest: { method: 'message', channel: 'Email', reviewLink: 'https://g.page/r/example/review' },
    });
    engine.forget(s.connection.id);
    assert.equal(await resumeWaitingReviewRequests(s.t.db, engine.queue, s.connection.id), 2);
    await settle();
    const after = (await activity()).messages.filter(
      (m) => m.contactId === first.contactId || m.contactId === second.contactId,
    );
    assert.deepEqual(
      after.map((m) => m.type),
      ['Email', 'Email'],
    );
    assert.equal(
      (
        await listActivity(s.t.db, {
          connectionId: s.connection.id,
          flow: 'reviewRequests',
          openErrorsOnly: true,
          limit: 50,
        })
      ).length,
      0,
    );
  });
});
