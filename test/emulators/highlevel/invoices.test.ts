import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeDocumentTotals } from '../../../emulators/highlevel/documentTotals.ts';
import { percentOf, toMajor, toMinor } from '../../../emulators/highlevel/money.ts';
import fc from 'fast-check';
import { arr, obj, setup, WebhookReceiver, type Json, type Setup } from './helpers.ts';

describe('HighLevel emulator: money and invoice maths (pure)', () => {
  it('converts major to minor units exactly and rounds half up', () => {
    assert.equal(toMinor(0.1 + 0.2, 'USD'), 30);
    assert.equal(toMinor(1.005, 'USD'), 101); // 1.005 as written, not 1.00499999...
    assert.equal(toMinor(1234, 'JPY'), 1234);
    assert.equal(toMajor(1210, 'USD'), 12.1);
    assert.equal(toMinor(1.2345, 'KWD'), 1235);
  });

  it('rounds each tax line half up to the cent', () => {
    assert.equal(percentOf(1250, 10), 125);
    assert.equal(percentOf(1005, 5), 50); // 50.25 -> 50
    assert.equal(percentOf(1010, 5), 51); // 50.5 -> 51
    assert.equal(percentOf(999, 8.875), 89); // 88.66 -> 89
  });

  it('applies a percentage discount before exclusive taxes, spread over the lines', () => {
    const t = computeDocumentTotals(
      [
        {
          unitMinor: 1050,
          qty: 3,
          taxes: [
            { _id: 'a', name: 'State', rate: 6.25 },
            { _id: 'b', name: 'City', rate: 2 },
          ],
        },
        { unitMinor: 1999, qty: 1, taxes: [{ _id: 'a', name: 'State', rate: 6.25 }] },
      ],
      { type: 'percentage', value: 10 },
    );
    assert.equal(t.subTotal, 5149);
    assert.equal(t.discount, 515); // 514.9 -> 515
    assert.deepEqual(t.lineDiscounts, [315, 200]);
    // line 1 base 2835: 6.25% = 177.1875 -> 177, 2% = 56.7 -> 57; line 2 base 1799: 6.25% = 112.4375 -> 112
    assert.deepEqual(t.lineTaxes, [234, 112]);
    assert.equal(t.tax, 346);
    assert.equal(t.total, 5149 - 515 + 346);
    assert.deepEqual(
      t.taxSummary.map((x) => [x.name, x.amountMinor]),
      [
        ['State', 289],
        ['City', 57],
      ],
    );
  });

  it('caps a fixed discount at the subtotal and limits it to listed products', () => {
    const capped = computeDocumentTotals([{ unitMinor: 500, qty: 1, taxes: [] }], { type: 'fixed', value: 800 });
    assert.equal(capped.discount, 500);
    assert.equal(capped.total, 0);
    const limited = computeDocumentTotals(
      [
        { unitMinor: 1000, qty: 1, productId: 'p1', taxes: [] },
        { unitMinor: 1000, qty: 1, productId: 'p2', taxes: [] },
      ],
      { type: 'percentage', value: 50, validOnProductIds: ['p2'] },
    );
    assert.deepEqual(limited.lineDiscounts, [0, 500]);
  });

  it('extracts inclusive taxes without adding them to the total', () => {
    const t = computeDocumentTotals(
      [{ unitMinor: 12000, qty: 1, taxInclusive: true, taxes: [{ _id: 'v', name: 'VAT', rate: 20 }] }],
      undefined,
    );
    assert.equal(t.subTotal, 12000);
    assert.equal(t.tax, 2000);
    assert.equal(t.total, 12000);
  });

  it('always adds up: lines, discount spread, taxes and total (property)', () => {
    const line = fc.record({
      unitMinor: fc.integer({ min: 0, max: 5_000_000 }),
      qty: fc.integer({ min: 1, max: 400 }).map((q) => q / 4),
      taxInclusive: fc.boolean(),
      taxes: fc.array(
        fc.record({
          _id: fc.constantFrom('a', 'b', 'c'),
          name: fc.constant('T'),
          rate: fc.integer({ min: 0, max: 2500 }).map((r) => r / 100),
        }),
        { maxLength: 3 },
      ),
    });
    const discount = fc.oneof(
      fc.record({
        type: fc.constant('percentage' as const),
        value: fc.integer({ min: 0, max: 10000 }).map((v) => v / 100),
      }),
      fc.record({ type: fc.constant('fixed' as const), value: fc.integer({ min: 0, max: 10_000_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), discount, (lines, d) => {
        const t = computeDocumentTotals(lines, d);
        assert.equal(
          t.lineSubtotals.reduce((a, b) => a + b, 0),
          t.subTotal,
        );
        assert.equal(
          t.lineDiscounts.reduce((a, b) => a + b, 0),
          t.discount,
        );
        assert.ok(t.discount >= 0 && t.discount <= t.subTotal);
        t.lineDiscounts.forEach((ld, i) => {
          assert.ok(ld >= 0 && ld <= t.lineSubtotals[i]!);
        });
        assert.equal(
          t.lineTaxes.reduce((a, b) => a + b, 0),
          t.tax,
        );
        assert.equal(
          t.taxSummary.reduce((a, x) => a + x.amountMinor, 0),
          t.tax,
        );
        assert.equal(t.total, t.subTotal - t.discount + t.exclusiveTax);
        for (const v of [t.subTotal, t.discount, t.tax, t.total]) assert.ok(Number.isInteger(v));
      }),
      { numRuns: 300 },
    );
  });

  it('multiplies fractional quantities exactly', () => {
    const t = computeDocumentTotals([{ unitMinor: 3333, qty: 1.5, taxes: [] }], undefined);
    assert.equal(t.subTotal, 5000); // 4999.5 -> 5000
  });
});

describe('HighLevel emulator: invoices over HTTP', () => {
  let s: Setup;
  let receiver: WebhookReceiver;
  let contactId = '';
  before(async () => {
    s = await setup();
    receiver = (await new WebhookReceiver().start()).namesFrom(s.emulator);
    await s.api.admin('POST', '/app', { webhookUrl: receiver.url });
    const c = await s.api.post('/contacts/', {
      locationId: s.locationId,
      firstName: 'Ivy',
      lastName: 'Payer',
      email: 'ivy@example.com',
      phone: '+15125550123',
    });
    contactId = String(obj(c.body.contact).id);
  });
  after(async () => {
    await s.emulator.close();
    await receiver.close();
  });

  const body = (over: Json = {}): Json => ({
    altId: s.locationId,
    altType: 'location',
    name: 'Consulting',
    currency: 'USD',
    issueDate: '2026-11-20',
    dueDate: '2026-12-20',
    liveMode: true,
    businessDetails: { name: 'Acme' },
    sentTo: { email: ['ivy@example.com'] },
    contactDetails: { id: contactId, name: 'Ivy Payer', email: 'ivy@example.com', phoneNo: '+15125550123' },
    discount: { type: 'percentage', value: 10 },
    items: [
      {
        name: 'Hours',
        currency: 'USD',
        amount: 10.5,
        qty: 3,
        taxes: [
          { _id: 'st', name: 'State', rate: 6.25 },
          { _id: 'ct', name: 'City', rate: 2 },
        ],
      },
      { name: 'Setup', currency: 'USD', amount: 19.99, qty: 1, taxes: [{ _id: 'st', name: 'State', rate: 6.25 }] },
    ],
    ...over,
  });

  it('numbers invoices per location and computes totals, totalSummary and amountDue', async () => {
    const next = await s.api.get(`/invoices/generate-invoice-number?altId=${s.locationId}&altType=location`);
    assert.equal(next.status, 200);
    const n = Number(next.body.invoiceNumber);
    const created = await s.api.post('/invoices/', body());
    assert.equal(created.status, 200);
    const inv = created.body;
    assert.match(String(inv._id), /^[0-9a-f]{24}$/);
    assert.equal(inv.invoiceNumber, n);
    assert.equal(inv.status, 'draft');
    assert.equal(inv.total, 49.8);
    assert.deepEqual(inv.totalSummary, { subTotal: 51.49, discount: 5.15, tax: 3.46 });
    assert.equal(inv.amountDue, 49.8);
    assert.equal(inv.amountPaid, 0);
    const after2 = await s.api.get(`/invoices/generate-invoice-number?altId=${s.locationId}&altType=location`);
    assert.equal(after2.body.invoiceNumber, n + 1);
  });

  it('handles a fixed discount', async () => {
    const r = await s.api.post(
      '/invoices/',
      body({
        discount: { type: 'fixed', value: 5 },
        items: [{ name: 'A', currency: 'USD', amount: 100, qty: 1, taxes: [{ _id: 't', name: 'T', rate: 10 }] }],
      }),
    );
    assert.equal(r.body.total, 104.5);
    assert.deepEqual(r.body.totalSummary, { subTotal: 100, discount: 5, tax: 9.5 });
    assert.deepEqual(r.body.discount, { type: 'fixed', value: 5 });
  });

  it('sends, takes partial then full payment (a transaction each), and emits the invoice webhooks', async () => {
    const inv = (await s.api.post('/invoices/', body())).body;
    const id = String(inv._id);
    const sent = await s.api.post(`/invoices/${id}/send`, {
      altId: s.locationId,
      altType: 'location',
      userId: 'u1',
      action: 'email',
      liveMode: true,
    });
    assert.equal(sent.status, 200);
    assert.equal(obj(sent.body.invoice).status, 'sent');
    const part = await s.api.post(`/invoices/${id}/record-payment`, {
      altId: s.locationId,
      altType: 'location',
      mode: 'cash',
      amount: 20,
      notes: 'first',
    });
    assert.equal(part.status, 200);
    assert.equal(part.body.success, true);
    assert.equal(obj(part.body.invoice).status, 'partially_paid');
    assert.equal(obj(part.body.invoice).amountPaid, 20);
    assert.equal(obj(part.body.invoice).amountDue, 29.8);
    const tooMuch = await s.api.post(`/invoices/${id}/record-payment`, {
      altId: s.locationId,
      altType: 'location',
      mode: 'cash',
      amount: 30,
    });
    assert.equal(tooMuch.status, 400);
    const rest = await s.api.post(`/invoices/${id}/record-payment`, {
      altId: s.locationId,
      altType: 'location',
      mode: 'card',
      card: { brand: 'visa', last4: '4242' },
    });
    assert.equal(obj(rest.body.invoice).status, 'paid');
    assert.equal(obj(rest.body.invoice).amountDue, 0);
    assert.equal(obj(rest.body.invoice).amountPaid, 49.8);

    const txs = await s.api.get(
      `/payments/transactions?altId=${s.locationId}&altType=location&entitySourceType=invoice&entityId=${id}`,
    );
    assert.equal(txs.body.totalCount, 2);
    assert.deepEqual(
      arr(txs.body.data)
        .map((t) => t.amount)
        .sort(),
      [20, 29.8],
    );
    assert.ok(arr(txs.body.data).every((t) => t.contactEmail === 'ivy@example.com'));

    await s.emulator.flushWebhooks();
    const types = receiver.received.filter((h) => h.payload._id === id).map((h) => receiver.eventOf(h));
    assert.deepEqual(types, ['InvoiceCreate', 'InvoiceSent', 'InvoicePartiallyPaid', 'InvoicePaid']);
    const paid = receiver.received.find((h) => h.payload._id === id && receiver.eventOf(h) === 'InvoicePaid')!.payload;
    assert.deepEqual(
      [paid.type, paid.locationId, paid.altId, paid.altType],
      [undefined, undefined, s.locationId, 'location'],
    );
    assert.equal(typeof paid.invoiceNumber, 'string');
    assert.equal(paid.amountDue, 0);

    // the invoice e-mail went to the contact
    const activity = await s.api.admin('GET', `/activity?contactId=${contactId}`);
    assert.ok(arr(activity.body.messages).some((m) => m.type === 'Email' && m.to === 'ivy@example.com'));
  });

  it('updates with invoiceItems, voids, deletes, and refuses voiding a paid invoice', async () => {
    const inv = (await s.api.post('/invoices/', body())).body;
    const id = String(inv._id);
    const upd = await s.api.put(`/invoices/${id}`, {
      ...body(),
      items: undefined,
      sentTo: undefined,
      invoiceItems: [{ name: 'Only', currency: 'USD', amount: 10, qty: 2 }],
      discount: { type: 'percentage', value: 0 },
    });
    assert.equal(upd.status, 200);
    assert.equal(upd.body.total, 20);
    const nested = await s.api.put(`/invoices/${id}`, {
      ...body(),
      items: undefined,
      sentTo: undefined,
      invoiceItems: [{ name: 'Only', currency: 'USD', amount: 10, qty: 2, sku: 'x' }],
    });
    assert.equal(nested.status, 422, 'nested DTOs are whitelisted too');
    assert.deepEqual(nested.body.message, ['invoiceItems.0.property sku should not exist']);
    const noContactDetails = await s.api.put(`/invoices/${id}`, {
      ...body(),
      items: undefined,
      sentTo: undefined,
      contactDetails: undefined,
      invoiceItems: [{ name: 'Only', currency: 'USD', amount: 10, qty: 2 }],
    });
    assert.equal(noContactDetails.status, 200, 'UpdateInvoiceDto does not require contactDetails');
    const voided = await s.api.post(`/invoices/${id}/void`, { altId: s.locationId, altType: 'location' });
    assert.equal(voided.body.status, 'void');
    assert.equal(
      (await s.api.post(`/invoices/${id}/record-payment`, { altId: s.locationId, altType: 'location', mode: 'cash' }))
        .status,
      400,
    );
    const del = await s.api.delete(`/invoices/${id}?altId=${s.locationId}&altType=location`);
    assert.equal(del.status, 200);
    const gone = await s.api.get(`/invoices/${id}?altId=${s.locationId}&altType=location`);
    assert.equal(gone.status, 400);
    assert.equal(gone.body.message, 'Unable to find an invoice with the given invoice id');

    const paid = (await s.api.post('/invoices/', body())).body;
    await s.api.post(`/invoices/${String(paid._id)}/record-payment`, {
      altId: s.locationId,
      altType: 'location',
      mode: 'cash',
    });
    assert.equal(
      (await s.api.post(`/invoices/${String(paid._id)}/void`, { altId: s.locationId, altType: 'location' })).status,
      400,
    );
    await s.emulator.flushWebhooks();
    assert.deepEqual(
      receiver.received.filter((h) => h.payload._id === id).map((h) => receiver.eventOf(h)),
      ['InvoiceCreate', 'InvoiceUpdate', 'InvoiceUpdate', 'InvoiceVoid', 'InvoiceDelete'],
    );
  });

  it('lists with filters, paging and total', async () => {
    const q = `altId=${s.locationId}&altType=location`;
    const all = await s.api.get(`/invoices/?${q}&limit=100&offset=0`);
    assert.equal(all.status, 200);
    const total = Number(all.body.total);
    assert.ok(total >= 4);
    const page = await s.api.get(`/invoices/?${q}&limit=2&offset=1`);
    assert.equal(arr(page.body.invoices).length, 2);
    assert.equal(page.body.total, total);
    const paid = await s.api.get(`/invoices/?${q}&limit=100&offset=0&status=paid`);
    assert.ok(arr(paid.body.invoices).every((i) => i.status === 'paid'));
    assert.ok(Number(paid.body.total) >= 2);
    const byContact = await s.api.get(`/invoices/?${q}&limit=100&offset=0&contactId=${contactId}`);
    assert.equal(byContact.body.total, total);
    const none = await s.api.get(`/invoices/?${q}&limit=100&offset=0&startAt=2027-01-01`);
    assert.equal(none.body.total, 0);
    const missing = await s.api.get(`/invoices/?${q}`);
    assert.equal(missing.status, 422);
  });

  it('creates and sends in one call with text2pay, and reads the invoice settings', async () => {
    const r = await s.api.post('/invoices/text2pay', { ...body(), action: 'send', userId: 'user1' });
    assert.equal(r.status, 200);
    assert.equal(obj(r.body.invoice).status, 'sent');
    assert.match(String(r.body.invoiceUrl), /\/invoice\//);
    const settings = await s.api.get(`/invoices/settings?altId=${s.locationId}&altType=location`);
    assert.equal(settings.body.invoiceNumberPrefix, 'INV-');
  });

  it('keeps each document in its own currency (zero-decimal JPY)', async () => {
    const r = await s.api.post(
      '/invoices/',
      body({
        currency: 'JPY',
        discount: { type: 'percentage', value: 0 },
        items: [
          { name: 'Yen', currency: 'JPY', amount: 1001, qty: 3, taxes: [{ _id: 'c', name: 'Consumption', rate: 10 }] },
        ],
      }),
    );
    assert.equal(r.body.currency, 'JPY');
    assert.equal(r.body.total, 3303);
  });
});
