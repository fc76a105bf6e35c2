import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
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
    assert.deepEqual(verifyHighLevelSignature(body, { 'x-ghl-signature': edSignature }, keys), { ok: true, scheme: 'ed25519' });
    const pem = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.equal(verifyHighLevelSignature(Buffer.from(body), { 'x-ghl-signature': edSignature }, { ed25519PublicKey: pem }).ok, true);
  });

  it('refuses a forged or re-used signature and a changed body', () => {
    const forger = generateKeyPairSync('ed25519');
    const forged = sign(null, Buffer.from(body), forger.privateKey).toString('base64');
    assert.equal(verifyHighLevelSignature(body, { 'x-ghl-signature': forged }, keys).ok, false);
    assert.equal(verifyHighLevelSignature(body.replace('John', 'Jane'), { 'x-ghl-signature': edSignature }, keys).ok, false);
    assert.equal(verifyHighLevelSignature(body, { 'x-ghl-signature': 'AAAA' }, keys).ok, false);
    // Against HighLevel's real published key, our own signature is worthless.
    assert.equal(verifyHighLevelSignature(body, { 'x-ghl-signature': edSignature }).ok, false);
    assert.equal(verifyHighLevelSignature(body, {}, keys).ok, false);
  });

  it('uses the legacy RSA x-wh-signature only when x-ghl-signature is absent', () => {
    assert.deepEqual(verifyHighLevelSignature(body, { 'x-wh-signature': rsaSignature }, keys), { ok: true, scheme: 'rsa-sha256' });
    assert.equal(verifyHighLevelSignature(body, { 'x-ghl-signature': 'bad', 'x-wh-signature': rsaSignature }, keys).ok, false, 'no fallback once x-ghl-signature is present');
    assert.equal(verifyHighLevelSignature(body, { 'x-wh-signature': rsaSignature }, { ...keys, rsaPublicKeyPem: null }).ok, false);
  });
});

describe('HighLevel webhook events', () => {
  it('reads a contact event, keyed by webhookId', () => {
    const event = parseHighLevelWebhook(body);
    assert.equal(event.type, 'ContactCreate');
    if (event.type !== 'ContactCreate') return;
    assert.equal(event.eventId, 'wh-123');
    assert.equal(event.contactId, 'nmFmQEsNgz6AVpgLVUJ0');
    assert.equal(event.contact.email, 'JohnDeo@gmail.com');
    assert.equal(isFreshWebhook(event, Date.parse('2026-11-24T10:03:00Z')), true);
    assert.equal(isFreshWebhook(event, Date.parse('2026-11-24T10:30:00Z')), false);
  });

  it('reads invoice events located by altId, with a string invoice number', () => {
    const event = parseHighLevelWebhook(
      JSON.stringify({ type: 'InvoicePaid', _id: 'inv1', status: 'paid', altId: 'L1', altType: 'location', currency: 'USD', invoiceNumber: '19', total: 999, amountDue: 0, invoiceItems: [] }),
    );
    assert.equal(event.type, 'InvoicePaid');
    if (event.type === 'InvoicePaid') {
      assert.equal(event.locationId, 'L1');
      assert.equal(event.invoice.invoiceNumber, '19');
      assert.match(event.eventId, /^sha256-/, 'no webhookId: the body hash is the id');
    }
  });

  it('reads orders with camelCase contact snapshots, and install events', () => {
    const order = parseHighLevelWebhook(
      JSON.stringify({ type: 'OrderCreate', locationId: 'L1', _id: 'o1', currency: 'USD', amount: 150.1, contactSnapshot: { firstName: 'Max', email: 'm@x.com' }, webhookId: 'w2' }),
    );
    assert.equal(order.type === 'OrderCreate' ? order.order.contactSnapshot?.email : undefined, 'm@x.com');
    const install = parseHighLevelWebhook(JSON.stringify({ type: 'INSTALL', appId: 'app', companyId: 'co', locationId: 'L1' }));
    assert.deepEqual(install.type === 'INSTALL' ? [install.appId, install.locationId, install.companyId] : [], ['app', 'L1', 'co']);
  });

  it('turns unknown or malformed events into {type: "unknown"} instead of failing', () => {
    const appointment = parseHighLevelWebhook(JSON.stringify({ type: 'AppointmentCreate', locationId: 'L1', webhookId: 'w3' }));
    assert.equal(appointment.type, 'unknown');
    assert.equal(appointment.eventId, 'w3');
    const broken = parseHighLevelWebhook(JSON.stringify({ type: 'ContactCreate' }));
    assert.equal(broken.type, 'unknown');
    assert.throws(() => parseHighLevelWebhook('{not json'));
  });
});
