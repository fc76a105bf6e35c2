// Contract tests: what the emulator answers and sends must fit HighLevel's own OpenAPI documents and webhook
// event schemas (vendor-specs/highlevel, found as emulators/common/vendorSpecs.ts says). Where the spec is self-contradictory the exception is listed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildOperations } from '../../../emulators/highlevel/spec/generate.ts';
import { operations } from '../../../emulators/highlevel/spec/operations.generated.ts';
import { check, responseSchema, SPEC_ROOT, SPECS_MISSING, undocumentedPaths, webhookSchema } from './openapi.ts';
import { obj, setup, WebhookReceiver, type Setup } from './helpers.ts';

/**
 * Known spec defects: invoices.json declares `invoiceItems` (and payments.json order `items`) as arrays of strings,
 * while its own examples and the Invoice and Order webhook docs show objects. payments.json types transaction and
 * subscription `status` (and subscription detail `altType`) as "object" while describing and exemplifying a string.
 */
const SPEC_DEFECTS = ['invoiceItems[]', 'items[]', 'invoices[].invoiceItems[]', 'invoice.invoiceItems[]'];
const PAYMENT_SPEC_DEFECTS = [...SPEC_DEFECTS, 'status', 'data[].status', 'altType'];

const skipWithout = SPECS_MISSING;

describe('HighLevel emulator: its request declarations are the published documents', { skip: skipWithout }, () => {
  it('keeps spec/operations.generated.ts in step with the OpenAPI documents', () => {
    assert.deepEqual(buildOperations(SPEC_ROOT), JSON.parse(JSON.stringify(operations)));
  });
});

describe('HighLevel emulator: contract with the OpenAPI specs and webhook docs', { skip: skipWithout }, () => {
  let s: Setup;
  let receiver: WebhookReceiver;
  let contactId = '';
  let invoiceId = '';
  let orderId = '';
  let transactionId = '';
  let subscriptionId = '';
  let otherLocationId = '';
  before(async () => {
    s = await setup();
    receiver = await new WebhookReceiver().start();
    receiver.namesFrom(s.emulator);
    await s.api.admin('POST', '/app', { webhookUrl: receiver.url });
    const field = await s.api.post(`/locations/${s.locationId}/customFields`, { name: 'Loyalty', dataType: 'TEXT' });
    const c = await s.api.post('/contacts/', {
      locationId: s.locationId,
      firstName: 'Cora',
      lastName: 'Tract',
      email: 'cora@example.com',
      phone: '+15125550111',
      address1: '1 Spec St',
      city: 'Austin',
      state: 'TX',
      postalCode: '78701',
      country: 'US',
      website: 'https://cora.example.com',
      source: 'contract test',
      companyName: 'Spec Co',
      dateOfBirth: '1990-01-05',
      assignedTo: 'user000000000000000a',
      tags: ['a'],
      timezone: 'America/Chicago',
      customFields: [{ id: String(obj(field.body.customField).id), field_value: 'gold' }],
    });
    contactId = String(obj(c.body.contact).id);
    const inv = await s.api.admin('POST', `/locations/${s.locationId}/actions/invoice`, {
      contactId,
      items: [{ name: 'Work', amount: 100, taxes: [{ name: 'Tax', rate: 8.25 }] }],
      discount: { type: 'percentage', value: 5 },
      send: true,
    });
    invoiceId = String(inv.body.invoiceId);
    await s.api.admin('POST', `/invoices/${invoiceId}/record-payment`, { amount: 10 });
    await s.api.admin('POST', `/invoices/${invoiceId}/record-payment`, {});
    const voidMe = await s.api.admin('POST', `/locations/${s.locationId}/actions/invoice`, {
      contactId,
      items: [{ name: 'X', amount: 1 }],
    });
    await s.api.post(`/invoices/${String(voidMe.body.invoiceId)}/void`, { altId: s.locationId, altType: 'location' });
    await s.api.delete(`/invoices/${String(voidMe.body.invoiceId)}?altId=${s.locationId}&altType=location`);
    const sub = await s.api.admin('POST', `/locations/${s.locationId}/actions/subscription`, {
      contact: { email: 'cora@example.com' },
      product: { name: 'Plan', amount: 20, taxes: [{ name: 'VAT', rate: 10 }] },
    });
    orderId = String(sub.body.orderId);
    transactionId = String(sub.body.transactionId);
    subscriptionId = String(sub.body.subscriptionId);
    await s.api.put(`/contacts/${contactId}`, { city: 'Dallas' });
    await s.api.post(`/contacts/${contactId}/tags`, { tags: ['b'] });
    await s.api.admin('POST', `/locations/${s.locationId}/install`);
    const draft = await s.api.admin('POST', `/locations/${s.locationId}/actions/invoice`, {
      contactId,
      items: [{ name: 'Draft', amount: 7 }],
    });
    await s.api.put(`/invoices/${String(draft.body.invoiceId)}`, {
      altId: s.locationId,
      altType: 'location',
      name: 'Draft v2',
      currency: 'USD',
      issueDate: '2026-11-24',
      dueDate: '2026-12-24',
      contactDetails: { id: contactId, name: 'Cora Tract', email: 'cora@example.com', phoneNo: '+15125550111' },
      invoiceItems: [{ name: 'Draft', currency: 'USD', amount: 8, qty: 1 }],
    });
    otherLocationId = String((await s.api.admin('POST', '/locations', { country: 'DE' })).body.locationId);
    await s.api.admin('POST', `/locations/${otherLocationId}/uninstall`);
    const gone = await s.api.post('/contacts/', {
      locationId: s.locationId,
      firstName: 'Gone',
      lastName: 'Soon',
      email: 'gone@example.com',
      phone: '+15125550112',
      address1: '2 Spec St',
      city: 'Austin',
      state: 'TX',
      postalCode: '78701',
      country: 'US',
      website: 'https://gone.example.com',
      source: 'contract test',
      companyName: 'Spec Co',
      dateOfBirth: '1991-02-03',
      assignedTo: 'user000000000000000a',
      tags: ['z'],
    });
    await s.api.delete(`/contacts/${String(obj(gone.body.contact).id)}`);
    await s.emulator.flushWebhooks();
  });
  after(async () => {
    await s.emulator.close();
    await receiver.close();
  });

  const fits = (value: unknown, located: ReturnType<typeof responseSchema>, options = {}): void => {
    const problems = check(value, located, { skip: SPEC_DEFECTS, ...options });
    assert.deepEqual(problems, []);
  };
  const alt = (): string => `altId=${s.locationId}&altType=location`;

  it('GET /contacts/{contactId}, POST /contacts/, PUT, upsert, search, tags fit contacts.json', async () => {
    fits(
      (await s.api.get(`/contacts/${contactId}`)).body,
      responseSchema('contacts', 'get', '/contacts/{contactId}', '200'),
    );
    const created = await s.api.post('/contacts/', {
      locationId: s.locationId,
      email: 'fresh@example.com',
      firstName: 'F',
    });
    fits(created.body, responseSchema('contacts', 'post', '/contacts/', '201'));
    fits(
      (await s.api.put(`/contacts/${contactId}`, { lastName: 'Tracts' })).body,
      responseSchema('contacts', 'put', '/contacts/{contactId}', '200'),
    );
    fits(
      (await s.api.post('/contacts/upsert', { locationId: s.locationId, email: 'cora@example.com' })).body,
      responseSchema('contacts', 'post', '/contacts/upsert', '200'),
    );
    fits(
      (await s.api.post(`/contacts/${contactId}/tags`, { tags: ['c'] })).body,
      responseSchema('contacts', 'post', '/contacts/{contactId}/tags', '201'),
    );
    fits(
      (await s.api.get(`/contacts/?locationId=${s.locationId}`)).body,
      responseSchema('contacts', 'get', '/contacts/', '200'),
    );
    const wf = obj(
      (await s.api.admin('POST', `/locations/${s.locationId}/workflows`, { name: 'Contract workflow' })).body.workflow,
    );
    fits(
      (await s.api.post(`/contacts/${contactId}/workflow/${String(wf.id)}`, {})).body,
      responseSchema('contacts', 'post', '/contacts/{contactId}/workflow/{workflowId}', '200'),
    );
  });

  it('error bodies fit common-schemas (400, 401, 422)', async () => {
    fits(
      (await s.api.post('/contacts/', { locationId: s.locationId, email: 'cora@example.com' })).body,
      responseSchema('contacts', 'post', '/contacts/', '400'),
    );
    fits(
      (await s.api.get(`/contacts/${contactId}`, { token: 'bad' })).body,
      responseSchema('contacts', 'get', '/contacts/{contactId}', '401'),
    );
    fits((await s.api.post('/contacts/', {})).body, responseSchema('contacts', 'post', '/contacts/', '422'));
  });

  it('invoice endpoints fit invoices.json', async () => {
    fits(
      (await s.api.get(`/invoices/${invoiceId}?${alt()}`)).body,
      responseSchema('invoices', 'get', '/invoices/{invoiceId}', '200'),
    );
    fits(
      (await s.api.get(`/invoices/?${alt()}&limit=10&offset=0`)).body,
      responseSchema('invoices', 'get', '/invoices/', '200'),
    );
    fits(
      (await s.api.get(`/invoices/generate-invoice-number?${alt()}`)).body,
      responseSchema('invoices', 'get', '/invoices/generate-invoice-number', '200'),
    );
    fits(
      (await s.api.get(`/invoices/settings?${alt()}`)).body,
      responseSchema('invoices', 'get', '/invoices/settings', '200'),
    );
    const t2p = await s.api.post('/invoices/text2pay', {
      altId: s.locationId,
      altType: 'location',
      name: 'T2P',
      currency: 'USD',
      issueDate: '2026-11-24',
      liveMode: true,
      action: 'draft',
      userId: 'u',
      contactDetails: { id: contactId, name: 'Cora', email: 'cora@example.com', phoneNo: '+15125550111' },
      sentTo: { email: ['cora@example.com'] },
      items: [{ name: 'A', currency: 'USD', amount: 5, qty: 1 }],
    });
    fits(t2p.body, responseSchema('invoices', 'post', '/invoices/text2pay', '200'));
    const draft = await s.api.admin('POST', `/locations/${s.locationId}/actions/invoice`, {
      contactId,
      items: [{ name: 'Y', amount: 3 }],
    });
    const id = String(draft.body.invoiceId);
    fits(
      (
        await s.api.post(`/invoices/${id}/send`, {
          altId: s.locationId,
          altType: 'location',
          userId: 'u',
          action: 'send_manually',
          liveMode: true,
        })
      ).body,
      responseSchema('invoices', 'post', '/invoices/{invoiceId}/send', '200'),
    );
    fits(
      (
        await s.api.post(`/invoices/${id}/record-payment`, {
          altId: s.locationId,
          altType: 'location',
          mode: 'cash',
          amount: 1,
        })
      ).body,
      responseSchema('invoices', 'post', '/invoices/{invoiceId}/record-payment', '200'),
    );
  });

  it('payments endpoints fit payments.json', async () => {
    fits(
      (await s.api.get(`/payments/orders?altId=${s.locationId}`)).body,
      responseSchema('payments', 'get', '/payments/orders', '200'),
      { skip: PAYMENT_SPEC_DEFECTS },
    );
    fits(
      (await s.api.get(`/payments/orders/${orderId}?altId=${s.locationId}`)).body,
      responseSchema('payments', 'get', '/payments/orders/{orderId}', '200'),
      { skip: PAYMENT_SPEC_DEFECTS },
    );
    fits(
      (await s.api.get(`/payments/transactions?${alt()}`)).body,
      responseSchema('payments', 'get', '/payments/transactions', '200'),
      { skip: PAYMENT_SPEC_DEFECTS },
    );
    fits(
      (await s.api.get(`/payments/transactions/${transactionId}?${alt()}`)).body,
      responseSchema('payments', 'get', '/payments/transactions/{transactionId}', '200'),
      { skip: PAYMENT_SPEC_DEFECTS },
    );
    fits(
      (await s.api.get(`/payments/subscriptions?${alt()}`)).body,
      responseSchema('payments', 'get', '/payments/subscriptions', '200'),
      { skip: PAYMENT_SPEC_DEFECTS },
    );
    // A payment posted by the location's own QuickBooks integration: qboSynced and qboResponse on the detail.
    await s.api.admin('POST', `/locations/${s.locationId}/quickbooks-integration`, { active: true, qboIds: ['180'] });
    const posted = await s.api.admin('POST', `/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { email: 'cora@example.com' },
      items: [{ name: 'Pass', amount: 25 }],
    });
    await s.api.admin('POST', `/locations/${s.locationId}/quickbooks-integration`, { active: false });
    const detail = await s.api.get(`/payments/transactions/${String(posted.body.transactionId)}?${alt()}`);
    fits(detail.body, responseSchema('payments', 'get', '/payments/transactions/{transactionId}', '200'), {
      skip: PAYMENT_SPEC_DEFECTS,
    });
    assert.equal(detail.body.qboSynced, true);
    assert.deepEqual(detail.body.qboResponse, {
      domain: 'QBO',
      sparse: false,
      Id: '180',
      SyncToken: '0',
      TotalAmt: 25,
    });
    fits(
      (await s.api.get(`/payments/subscriptions/${subscriptionId}?${alt()}`)).body,
      responseSchema('payments', 'get', '/payments/subscriptions/{subscriptionId}', '200'),
      { skip: PAYMENT_SPEC_DEFECTS },
    );
  });

  it('locations, custom fields, workflows and messages fit their specs', async () => {
    fits(
      (await s.api.get(`/locations/${s.locationId}`)).body,
      responseSchema('locations', 'get', '/locations/{locationId}', '200'),
    );
    fits(
      (await s.api.get(`/locations/${s.locationId}/customFields`)).body,
      responseSchema('locations', 'get', '/locations/{locationId}/customFields', '200'),
    );
    fits(
      (await s.api.post(`/locations/${s.locationId}/customFields`, { name: 'Another', dataType: 'NUMERICAL' })).body,
      responseSchema('locations', 'post', '/locations/{locationId}/customFields', '201'),
    );
    fits(
      (await s.api.get(`/workflows/?locationId=${s.locationId}`)).body,
      responseSchema('workflows', 'get', '/workflows/', '200'),
    );
    fits(
      (
        await s.api.post(
          '/conversations/messages',
          { type: 'SMS', contactId, message: 'hi' },
          { version: '2021-04-15' },
        )
      ).body,
      responseSchema('conversations', 'post', '/conversations/messages', '200'),
    );
  });

  it('the token endpoint answer fits oauth.json', async () => {
    const app = await s.api.admin('GET', '/app');
    const r = await fetch(`${s.api.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: String(app.body.clientId),
        client_secret: String(app.body.clientSecret),
        grant_type: 'refresh_token',
        refresh_token: s.refreshToken,
      }).toString(),
    });
    fits(await r.json(), responseSchema('oauth', 'post', '/oauth/token', '200'));
  });

  // Every payload carries `timestamp` and `webhookId`: docs/oauth/WebhookAuthentication.md ("the payload containing
  // the timestamp, webhook ID, and data"); no event doc lists them, so they are the only fields allowed beyond it.
  const ENVELOPE = ['timestamp', 'webhookId'];
  const EVENTS = [
    'ContactCreate',
    'ContactUpdate',
    'ContactTagUpdate',
    'ContactDelete',
    'InvoiceCreate',
    'InvoiceSent',
    'InvoicePartiallyPaid',
    'InvoicePaid',
    'InvoiceVoid',
    'InvoiceDelete',
    'InvoiceUpdate',
    'OrderCreate',
    'OrderStatusUpdate',
    'AppInstall',
    'AppUninstall',
  ];
  const sample = (event: string): Record<string, unknown> => {
    const hooks = receiver.ofEvent(event);
    assert.ok(hooks.length > 0, `no ${event} delivered`);
    const email = event === 'ContactDelete' ? 'gone@example.com' : 'cora@example.com';
    return event.startsWith('Contact')
      ? (hooks.find((h) => h.payload.email === email)?.payload ?? hooks[0]!.payload)
      : hooks[hooks.length - 1]!.payload;
  };

  for (const event of EVENTS) {
    it(`${event} webhooks fit docs/webhook events/${event}.md and carry nothing it does not show`, () => {
      const payload = sample(event);
      const problems = check(payload, webhookSchema(event), {
        requireAllProperties: true,
        // AppInstall's planId exists only for paid plans; a location-level AppUninstall names no companyId (its example).
        mayOmit: ['planId', 'companyId'],
      });
      assert.deepEqual(problems, []);
      assert.deepEqual(undocumentedPaths(payload, event, ENVELOPE), []);
      assert.equal(typeof payload.webhookId, 'string');
      assert.equal(typeof payload.timestamp, 'string');
      if (event.startsWith('Invoice')) {
        // The Invoice* docs show neither: the location is the altId of an altType "location".
        assert.equal(payload.type, undefined);
        assert.equal(payload.locationId, undefined);
        assert.deepEqual([payload.altId, payload.altType], [s.locationId, 'location']);
        assert.equal(typeof payload.invoiceNumber, 'string');
      } else {
        assert.equal(payload.type, event === 'AppInstall' ? 'INSTALL' : event === 'AppUninstall' ? 'UNINSTALL' : event);
        assert.equal(payload.locationId, event === 'AppUninstall' ? otherLocationId : s.locationId);
      }
    });
  }

  it('InvoiceDelete reports status "delete", as its example does', () => {
    assert.equal(sample('InvoiceDelete').status, 'delete');
  });

  it('the check finds fields a doc does not show', () => {
    const paid = sample('InvoicePaid');
    assert.deepEqual(
      undocumentedPaths({ ...paid, type: 'InvoicePaid', locationId: s.locationId }, 'InvoicePaid', ENVELOPE),
      ['type', 'locationId'],
    );
    assert.deepEqual(undocumentedPaths(paid, 'InvoicePaid'), ['timestamp', 'webhookId']);
    const order = sample('OrderCreate');
    const items = order.items as Array<Record<string, unknown>>;
    assert.deepEqual(
      undocumentedPaths(
        { ...order, paymentStatus: 'paid', items: [{ ...items[0], _id: 'x' }] },
        'OrderCreate',
        ENVELOPE,
      ).sort(),
      ['items[]._id', 'paymentStatus'],
    );
  });

  it('without the envelope, every payload holds exactly what its event doc shows', async () => {
    await s.api.admin('POST', '/app', { envelope: false });
    try {
      const before = receiver.received.length;
      const c = await s.api.post('/contacts/', {
        locationId: s.locationId,
        email: 'bare@example.com',
        firstName: 'Bare',
      });
      const inv = await s.api.admin('POST', `/locations/${s.locationId}/actions/invoice`, {
        contactId: String(obj(c.body.contact).id),
        items: [{ name: 'Bare', amount: 2 }],
        send: true,
      });
      await s.api.admin('POST', `/invoices/${String(inv.body.invoiceId)}/record-payment`, {});
      await s.api.admin('POST', `/locations/${s.locationId}/actions/order-form-payment`, {
        contact: { email: 'bare@example.com' },
        items: [{ name: 'Bare', amount: 1 }],
      });
      await s.emulator.flushWebhooks();
      const bare = receiver.received.slice(before);
      const sent = new Set(bare.map((h) => receiver.eventOf(h)));
      for (const event of [
        'ContactCreate',
        'InvoiceCreate',
        'InvoiceSent',
        'InvoicePaid',
        'OrderCreate',
        'OrderStatusUpdate',
      ])
        assert.ok(sent.has(event), event);
      for (const hook of bare) {
        const event = receiver.eventOf(hook);
        assert.deepEqual(undocumentedPaths(hook.payload, event), [], event);
        assert.equal(hook.payload.webhookId, undefined);
      }
    } finally {
      await s.api.admin('POST', '/app', { envelope: true });
    }
  });

  it('sends no transaction, subscription or refund events', async () => {
    for (const event of new Set(receiver.events())) assert.ok(EVENTS.includes(event), event);
  });
});
