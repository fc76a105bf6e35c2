import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arr, obj, setup, WebhookReceiver, type Setup } from './helpers.ts';

describe('HighLevel emulator: payments produced by CRM user actions', () => {
  let s: Setup;
  let receiver: WebhookReceiver;
  before(async () => {
    s = await setup();
    receiver = (await new WebhookReceiver().start()).namesFrom(s.emulator);
    await s.api.admin('POST', '/app', { webhookUrl: receiver.url });
  });
  after(async () => {
    await s.emulator.close();
    await receiver.close();
  });

  const alt = (): string => `altId=${s.locationId}&altType=location`;
  // payments.json declares altType on transactions and subscriptions, not on orders (whose reads take altId alone).
  const orderAlt = (): string => `altId=${s.locationId}`;
  const hooksFor = async (predicate: (p: Record<string, unknown>) => boolean): Promise<string[]> => {
    await s.emulator.flushWebhooks();
    return receiver.received.filter((h) => predicate(h.payload)).map((h) => receiver.eventOf(h));
  };

  it('order-form payment: contact upserted, order (OrderCreate), transaction (no webhook), order completed (OrderStatusUpdate)', async () => {
    receiver.received.length = 0;
    const r = await s.api.admin('POST', `/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { email: 'Buyer@Example.com', firstName: 'Bea', lastName: 'Buyer' },
      items: [{ name: 'Course', amount: 138, taxes: [{ name: '10%', rate: 10 }] }],
    });
    assert.equal(r.status, 200);
    const orderId = String(r.body.orderId);
    const txId = String(r.body.transactionId);
    const contactId = String(r.body.contactId);
    assert.match(orderId, /^[0-9a-f]{24}$/);
    assert.match(txId, /^[0-9a-f]{24}$/);

    await s.emulator.flushWebhooks();
    assert.deepEqual(receiver.types(), ['ContactCreate', 'OrderCreate', 'OrderStatusUpdate']);
    const created = receiver.ofType('OrderCreate')[0]!.payload;
    assert.equal(created.status, 'pending');
    assert.equal(created.amount, 151.8);
    assert.deepEqual(created.amountSummary, { subtotal: 138, discount: 0, tax: 13.8, shipping: 0 });
    assert.equal(obj(created.contactSnapshot).email, 'Buyer@Example.com');
    assert.equal(obj(created.contactSnapshot).firstName, 'Bea', 'webhook snapshot is camelCase');
    assert.equal(obj(created.source).type, 'funnel');
    assert.equal(receiver.ofType('OrderStatusUpdate')[0]!.payload.status, 'completed');

    const order = await s.api.get(`/payments/orders/${orderId}?${orderAlt()}`);
    assert.equal(order.status, 200);
    assert.equal(order.body.status, 'completed');
    assert.equal(obj(order.body.contactSnapshot).first_name, 'Bea', 'REST snapshot is snake_case');
    assert.equal(obj(order.body.contactSnapshot).email, 'Buyer@Example.com');

    const list = await s.api.get(`/payments/transactions?${alt()}&contactId=${contactId}`);
    assert.equal(list.body.totalCount, 1);
    const tx = arr(list.body.data)[0]!;
    assert.equal(tx._id, txId);
    assert.equal(tx.amount, 151.8);
    assert.equal(tx.currency, 'USD');
    assert.equal(tx.status, 'succeeded');
    assert.equal(tx.contactEmail, 'Buyer@Example.com');
    assert.equal(tx.contactName, 'Bea Buyer');
    assert.equal(tx.entitySourceType, 'funnel');
    assert.equal(tx.entityType, 'order');
    assert.equal(tx.entityId, orderId);
    assert.equal(typeof tx.fulfilledAt, 'string');
    const detail = await s.api.get(`/payments/transactions/${txId}?${alt()}`);
    assert.equal(obj(detail.body.contactSnapshot).email, 'Buyer@Example.com');
    assert.equal(obj(detail.body.entitySource).type, 'funnel');

    const orders = await s.api.get(`/payments/orders?${orderAlt()}&contactId=${contactId}`);
    assert.equal(orders.body.totalCount, 1);
    assert.equal(arr(orders.body.data)[0]!.contactEmail, 'Buyer@Example.com');

    // The same buyer again: the contact is matched, not duplicated.
    const again = await s.api.admin('POST', `/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { email: 'buyer@example.com' },
      items: [{ name: 'Upsell', amount: 10 }],
    });
    assert.equal(again.body.contactId, contactId);
  });

  it('subscription: renewals are transactions carrying subscriptionId, with no webhook', async () => {
    const r = await s.api.admin('POST', `/locations/${s.locationId}/actions/subscription`, {
      contact: { email: 'sub@example.com', firstName: 'Sam' },
      product: { name: 'Pro plan', amount: 29 },
      interval: 'month',
    });
    assert.equal(r.status, 200);
    const subId = String(r.body.subscriptionId);
    const sub = await s.api.get(`/payments/subscriptions/${subId}?${alt()}`);
    assert.equal(sub.status, 200);
    assert.equal(sub.body.status, 'active');
    assert.equal(sub.body.amount, 29);
    const providerId = String(sub.body.subscriptionId);
    assert.match(providerId, /^sub_/);
    await s.emulator.flushWebhooks();
    const before2 = receiver.received.length;
    const renewal = await s.api.admin('POST', `/subscriptions/${subId}/renew`, { advanceClock: true });
    assert.equal(renewal.status, 200);
    // a month of emulated time has passed: the day-long access token has expired, as it would have
    assert.equal((await s.api.get(`/payments/subscriptions/${subId}?${alt()}`)).status, 401);
    s.api.token = String((await s.api.admin('POST', '/tokens', { locationId: s.locationId })).body.access_token);
    await s.emulator.flushWebhooks();
    assert.equal(receiver.received.length, before2, 'renewals send no webhook');
    const txs = await s.api.get(`/payments/transactions?${alt()}&subscriptionId=${providerId}`);
    assert.equal(txs.body.totalCount, 2);
    assert.ok(arr(txs.body.data).every((t) => t.subscriptionId === providerId && t.amount === 29));
    const subs = await s.api.get(`/payments/subscriptions?${alt()}&contactId=${String(r.body.contactId)}`);
    assert.equal(subs.body.totalCount, 1);
    assert.equal(arr(subs.body.data)[0]!.contactEmail, 'sub@example.com');
    assert.deepEqual(await hooksFor((p) => p._id === r.body.orderId), ['OrderCreate', 'OrderStatusUpdate']);
    const cancel = await s.api.admin('POST', `/subscriptions/${subId}/cancel`);
    assert.equal(cancel.body.status, 'canceled');
    assert.equal((await s.api.admin('POST', `/subscriptions/${subId}/renew`)).status, 400);
  });

  it('membership and calendar booking payments carry their source types', async () => {
    const m = await s.api.admin('POST', `/locations/${s.locationId}/actions/membership`, {
      contact: { email: 'member@example.com' },
      offer: { name: 'Gold membership', amount: 199 },
    });
    const c = await s.api.admin('POST', `/locations/${s.locationId}/actions/calendar-payment`, {
      contact: { email: 'booker@example.com', phone: '+15125550999' },
      service: { name: 'Consultation', amount: 75 },
      subType: 'meeting',
    });
    assert.equal(m.status, 200);
    assert.equal(c.status, 200);
    const memberships = await s.api.get(`/payments/transactions?${alt()}&entitySourceType=membership`);
    assert.equal(memberships.body.totalCount, 1);
    assert.equal(arr(memberships.body.data)[0]!.amount, 199);
    const calendar = await s.api.get(`/payments/transactions?${alt()}&entitySourceType=calendar`);
    assert.equal(calendar.body.totalCount, 1);
    assert.equal(arr(calendar.body.data)[0]!.entitySourceSubType, 'meeting');
    const order = await s.api.get(`/payments/orders/${String(c.body.orderId)}?${orderAlt()}`);
    assert.equal(obj(order.body.source).type, 'calendar');
    const types = await hooksFor((p) => p._id === c.body.orderId);
    assert.deepEqual(types, ['OrderCreate', 'OrderStatusUpdate']);
    assert.deepEqual(await hooksFor((p) => p._id === m.body.orderId), ['OrderCreate', 'OrderStatusUpdate']);
    assert.deepEqual(
      await hooksFor(
        (p) => p.type === 'ContactCreate' && (p.email === 'member@example.com' || p.email === 'booker@example.com'),
      ),
      ['ContactCreate', 'ContactCreate'],
    );
    const recurring = await s.api.admin('POST', `/locations/${s.locationId}/actions/membership`, {
      contact: { email: 'member@example.com' },
      offer: { name: 'Monthly club', amount: 15 },
      recurring: { interval: 'month' },
    });
    const sub = await s.api.get(`/payments/subscriptions/${String(recurring.body.subscriptionId)}?${alt()}`);
    assert.equal(obj(sub.body.entitySource).type, 'membership');
    assert.equal(recurring.body.contactId, m.body.contactId, 'the same member is matched');
  });

  it('refunds: amountRefunded, refunded/partially_refunded statuses, order paymentStatus, no webhook', async () => {
    const r = await s.api.admin('POST', `/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { email: 'refund@example.com' },
      items: [{ name: 'Thing', amount: 100 }],
    });
    const txId = String(r.body.transactionId);
    await s.emulator.flushWebhooks();
    const before2 = receiver.received.length;
    const part = await s.api.admin('POST', `/transactions/${txId}/refund`, { amount: 30 });
    assert.equal(part.body.status, 'partially_refunded');
    assert.equal(part.body.amountRefunded, 30);
    let order = await s.api.get(`/payments/orders/${String(r.body.orderId)}?${orderAlt()}`);
    assert.equal(order.body.paymentStatus, 'partially_refunded');
    const rest = await s.api.admin('POST', `/transactions/${txId}/refund`, {});
    assert.equal(rest.body.status, 'refunded');
    assert.equal(rest.body.amountRefunded, 100);
    order = await s.api.get(`/payments/orders/${String(r.body.orderId)}?${orderAlt()}`);
    assert.equal(order.body.paymentStatus, 'refunded');
    assert.equal((await s.api.admin('POST', `/transactions/${txId}/refund`, { amount: 1 })).status, 400);
    await s.emulator.flushWebhooks();
    assert.equal(receiver.received.length, before2, 'refunds send no webhook');
    const listed = await s.api.get(`/payments/transactions?${alt()}&entityId=${String(r.body.orderId)}`);
    assert.equal(arr(listed.body.data)[0]!.amountRefunded, 100);
  });

  it('invoice created, sent and paid by the CRM user', async () => {
    const r = await s.api.admin('POST', `/locations/${s.locationId}/actions/invoice`, {
      contact: { email: 'inv@example.com', firstName: 'Ina' },
      items: [{ name: 'Work', amount: 250, qty: 2 }],
      send: true,
    });
    assert.equal(r.status, 200);
    const id = String(r.body.invoiceId);
    assert.equal(obj(r.body.invoice).status, 'sent');
    const paid = await s.api.admin('POST', `/invoices/${id}/record-payment`, { amount: 100 });
    assert.equal(obj(paid.body.invoice).status, 'partially_paid');
    await s.api.admin('POST', `/invoices/${id}/record-payment`, {});
    const inv = await s.api.get(`/invoices/${id}?${alt()}`);
    assert.equal(inv.body.status, 'paid');
    const types = await hooksFor((p) => p._id === id);
    assert.deepEqual(types, ['InvoiceCreate', 'InvoiceSent', 'InvoicePartiallyPaid', 'InvoicePaid']);
    const voidable = await s.api.admin('POST', `/locations/${s.locationId}/actions/invoice`, {
      contactId: String(obj(obj(r.body.invoice).contactDetails).id),
      items: [{ name: 'X', amount: 1 }],
    });
    const v = await s.api.admin('POST', `/invoices/${String(voidable.body.invoiceId)}/void`);
    assert.equal(v.body.status, 'void');
  });

  it('online invoice payments pass through payment_processing, then settle or fail', async () => {
    const r = await s.api.admin('POST', `/locations/${s.locationId}/actions/invoice`, {
      contact: { email: 'ach@example.com' },
      items: [{ name: 'Big job', amount: 1200 }],
      send: true,
    });
    const id = String(r.body.invoiceId);
    assert.equal(
      obj((await s.api.admin('POST', `/invoices/${id}/start-online-payment`)).body).status,
      'payment_processing',
    );
    assert.equal((await s.api.get(`/invoices/${id}?${alt()}`)).body.status, 'payment_processing');
    const failed = await s.api.admin('POST', `/invoices/${id}/fail-online-payment`);
    assert.equal(obj(failed.body.invoice).status, 'sent');
    const tx = await s.api.get(`/payments/transactions/${String(failed.body.transactionId)}?${alt()}`);
    assert.equal(tx.body.status, 'failed');
    await s.api.admin('POST', `/invoices/${id}/start-online-payment`);
    const settled = await s.api.admin('POST', `/invoices/${id}/record-payment`, {});
    assert.equal(obj(settled.body.invoice).status, 'paid');
    assert.deepEqual(await hooksFor((p) => p._id === id), [
      'InvoiceCreate',
      'InvoiceSent',
      'InvoiceUpdate',
      'InvoiceUpdate',
      'InvoiceUpdate',
      'InvoicePaid',
    ]);
  });

  it('filters lists by date window, source and paging, with totalCount', async () => {
    const all = await s.api.get(`/payments/transactions?${alt()}&limit=100`);
    const total = Number(all.body.totalCount);
    assert.ok(total >= 7);
    const page = await s.api.get(`/payments/transactions?${alt()}&limit=2&offset=2`);
    assert.equal(arr(page.body.data).length, 2);
    assert.equal(page.body.totalCount, total);
    assert.equal(arr(page.body.data)[0]!._id, arr(all.body.data)[2]!._id);
    const future = await s.api.get(`/payments/transactions?${alt()}&startAt=2099-01-01&endAt=2099-01-31`);
    assert.equal(future.body.totalCount, 0);
    const today = s.emulator.core.clock.now().toISOString().slice(0, 10);
    const windowed = await s.api.get(`/payments/orders?${orderAlt()}&startAt=2000-01-01&endAt=${today}&limit=100`);
    assert.ok(Number(windowed.body.totalCount) >= 1);
    const funnel = await s.api.get(`/payments/orders?${orderAlt()}&sourceType=funnel&limit=100`);
    assert.equal(funnel.status, 422, 'sourceType is not a declared filter of the order list');
    assert.deepEqual(funnel.body.message, ['property sourceType should not exist']);
    const wrongLocation = await s.api.get(`/payments/orders?altId=someOtherLocation0001`);
    assert.equal(wrongLocation.status, 403);
  });

  it('records a manual payment on an order through the API', async () => {
    const r = await s.api.admin('POST', `/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { email: 'manual@example.com' },
      items: [{ name: 'Y', amount: 5 }],
    });
    const res = await s.api.post(`/payments/orders/${String(r.body.orderId)}/record-payment`, {
      altId: s.locationId,
      altType: 'location',
      mode: 'cash',
    });
    assert.equal(res.status, 400, 'already paid by the checkout');
  });
});
