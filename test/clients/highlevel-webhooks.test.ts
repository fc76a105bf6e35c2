import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { parseHighLevelWebhook, verifyHighLevelSignature, isFreshWebhook } from '../../src/highlevel/webhooks.ts';

const ed = generateKeyPairSync('ed25519');
const edPublicSpki = ed.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();

const body = JSON.stringify({
  type: 'ContactCreate',
  locationId: 've9EPM428h8vShlRW1KT',
  id: 'nmFmQEsNgz6AVpgLVUJ0',
  email: 'JohnDeo@gmail.com',
  firstName: 'John',
  tags: ['a'],
  customFields: [{ id: 'Bcd', value: 'XYZ Corp' }],
  webhookId: 'wh-123',
  timestamp: '2026-11-24T10:00:00.000Z',
});
const edSignature = sign(null, Buffer.from(body), ed.privateKey).toString('base64');
const rsaSignature = sign('sha256', Buffer.from(body), rsa.privateKey).toString('base64');
const keys = { ed25519PublicKey: edPublicSpki, rsaPublicKeyPem: rsaPublicPem };

describe('HighLevel webhook signatures', () => {
  it('accepts an Ed25519 x-ghl-signature over the raw body (key as base64 SPKI or PEM)', () => {
    assert.deepEqual(verifyHighLevelSignature(body, { 'x-ghl-signature': edSignature }, keys), {
      ok: true,
      scheme: 'ed25519',
    });
    const pem = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.equal(
      verifyHighLevelSignature(Buffer.from(body), { 'x-ghl-signature': edSignature }, { ed25519PublicKey: pem }).ok,
      true,
    );
  });

  it('refuses a forged or re-used signature and a changed body', () => {
    const forger = generateKeyPairSync('ed25519');
    const forged = sign(null, Buffer.from(body), forger.privateKey).toString('base64');
    assert.equal(verifyHighLevelSignature(body, { 'x-ghl-signature': forged }, keys).ok, false);
    assert.equal(
      verifyHighLevelSignature(body.replace('John', 'Jane'), { 'x-ghl-signature': edSignature }, keys).ok,
      false,
    );
    assert.equal(verifyHighLevelSignature(body, { 'x-ghl-signature': 'AAAA' }, keys).ok, false);
    // Against HighLevel's real published key, our own signature is worthless.
    assert.equal(verifyHighLevelSignature(body, { 'x-ghl-signature': edSignature }).ok, false);
    assert.equal(verifyHighLevelSignature(body, {}, keys).ok, false);
  });

  it('uses the legacy RSA x-wh-signature only when x-ghl-signature is absent', () => {
    assert.deepEqual(verifyHighLevelSignature(body, { 'x-wh-signature': rsaSignature }, keys), {
      ok: true,
      scheme: 'rsa-sha256',
    });
    assert.equal(
      verifyHighLevelSignature(body, { 'x-ghl-signature': 'bad', 'x-wh-signature': rsaSignature }, keys).ok,
      false,
      'no fallback once x-ghl-signature is present',
    );
    assert.equal(
      verifyHighLevelSignature(body, { 'x-wh-signature': rsaSignature }, { ...keys, rsaPublicKeyPem: null }).ok,
      false,
    );
  });
});

describe('HighLevel webhook events', () => {
  it('reads a contact event, keyed by webhookId', () => {
    const event = parseHighLevelWebhook(body);
    assert.equal(event.kind, 'contact');
    if (event.kind !== 'contact') return;
    assert.equal(event.type, 'ContactCreate');
    assert.equal(event.eventId, 'wh-123');
    assert.equal(event.locationId, 've9EPM428h8vShlRW1KT');
    assert.equal(event.contactId, 'nmFmQEsNgz6AVpgLVUJ0');
    assert.equal(event.contact.email, 'JohnDeo@gmail.com');
    assert.equal(isFreshWebhook(event, Date.parse('2026-11-24T10:03:00Z')), true);
    // Inside the window while HighLevel still retries a 429 (six times ~10 minutes apart), outside after it.
    assert.equal(isFreshWebhook(event, Date.parse('2026-11-24T10:30:00Z')), true);
    assert.equal(isFreshWebhook(event, Date.parse('2026-11-24T12:00:00Z')), false);
    assert.equal(isFreshWebhook(event, Date.parse('2026-11-24T09:00:00Z')), false, 'far ahead of our clock');
  });

  // docs/webhook events/InvoicePaid.md: the invoice at top level, no type, no locationId, no webhookId.
  const documentedInvoice = {
    _id: '6578278e879ad2646715ba9c',
    status: 'paid',
    liveMode: false,
    amountPaid: 999,
    altId: 'L1',
    altType: 'location',
    invoiceNumber: '19',
    currency: 'USD',
    total: 999,
    amountDue: 0,
    invoiceItems: [],
  };

  it('places an invoice event without type or locationId by its shape and its altId', () => {
    const raw = JSON.stringify(documentedInvoice);
    const event = parseHighLevelWebhook(raw);
    assert.equal(event.kind, 'invoice');
    if (event.kind !== 'invoice') return;
    assert.equal(event.type, undefined);
    assert.equal(event.locationId, 'L1');
    assert.equal(event.invoiceId, '6578278e879ad2646715ba9c');
    assert.equal(event.status, 'paid');
    assert.equal(event.label, 'invoice event (status paid)');
    assert.equal(
      event.eventId,
      `sha256-${createHash('sha256').update(raw).digest('hex')}`,
      'no webhookId: the hash of the signed bytes',
    );
    assert.equal(parseHighLevelWebhook(Buffer.from(raw)).eventId, event.eventId, 'the same bytes, the same id');
    assert.notEqual(
      parseHighLevelWebhook(JSON.stringify({ ...documentedInvoice, amountPaid: 998 })).eventId,
      event.eventId,
    );
  });

  it('reads an invoice event that does name its type and location, keyed by its webhookId', () => {
    const event = parseHighLevelWebhook(
      JSON.stringify({
        type: 'InvoiceVoid',
        locationId: 'L2',
        ...documentedInvoice,
        altId: 'L2',
        status: 'void',
        webhookId: 'w9',
      }),
    );
    assert.deepEqual(event.kind === 'invoice' ? [event.type, event.locationId, event.eventId, event.label] : [], [
      'InvoiceVoid',
      'L2',
      'w9',
      'InvoiceVoid',
    ]);
  });

  it('reads InvoiceDelete as documented (status "delete")', () => {
    const event = parseHighLevelWebhook(JSON.stringify({ ...documentedInvoice, status: 'delete' }));
    assert.deepEqual(event.kind === 'invoice' ? [event.invoiceId, event.status] : [], [
      '6578278e879ad2646715ba9c',
      'delete',
    ]);
  });

  it('leaves unplaced, with the reason, an invoice owned by no location and a body of no known shape', () => {
    const company = parseHighLevelWebhook(JSON.stringify({ ...documentedInvoice, altType: 'company', altId: 'C1' }));
    assert.equal(company.kind, 'unplaced');
    assert.match(company.kind === 'unplaced' ? company.reason : '', /names no location \(altType company\)/);
    const shapeless = parseHighLevelWebhook(JSON.stringify({ id: 'x', amount: 3 }));
    assert.equal(shapeless.kind, 'unplaced');
    assert.match(shapeless.kind === 'unplaced' ? shapeless.reason : '', /no type and is not shaped like an invoice/);
    assert.equal(shapeless.locationId, undefined);
  });

  it('reads orders with camelCase contact snapshots, and install events', () => {
    const order = parseHighLevelWebhook(
      JSON.stringify({
        type: 'OrderCreate',
        locationId: 'L1',
        _id: 'o1',
        currency: 'USD',
        amount: 150.1,
        contactSnapshot: { firstName: 'Max', email: 'm@x.com' },
        webhookId: 'w2',
      }),
    );
    assert.equal(order.kind === 'order' ? order.order.contactSnapshot?.email : undefined, 'm@x.com');
    const install = parseHighLevelWebhook(
      JSON.stringify({ type: 'INSTALL', appId: 'app', companyId: 'co', locationId: 'L1' }),
    );
    assert.deepEqual(
      install.kind === 'app' ? [install.type, install.appId, install.locationId, install.companyId] : [],
      ['INSTALL', 'app', 'L1', 'co'],
    );
  });

  it('turns unknown or malformed events into unplaced ones instead of failing', () => {
    const appointment = parseHighLevelWebhook(
      JSON.stringify({ type: 'AppointmentCreate', locationId: 'L1', webhookId: 'w3' }),
    );
    assert.equal(appointment.kind, 'unplaced');
    assert.equal(appointment.eventId, 'w3');
    assert.equal(appointment.locationId, 'L1');
    const broken = parseHighLevelWebhook(JSON.stringify({ type: 'ContactCreate' }));
    assert.equal(broken.kind, 'unplaced');
    assert.equal(parseHighLevelWebhook('[1]').kind, 'unplaced');
    assert.throws(() => parseHighLevelWebhook('{not json'));
  });
});
