import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { setup, waitFor, WebhookReceiver, type Setup } from './helpers.ts';

describe('HighLevel emulator: webhook delivery', () => {
  let s: Setup;
  let receiver: WebhookReceiver;
  before(async () => {
    // clock factor 60,000: the 10-minute retry gaps become 10 ms
    s = await setup({ clockFactor: 60_000, webhookTimeoutMs: 300 });
    receiver = await new WebhookReceiver().start();
    await s.api.admin('POST', '/app', { webhookUrl: receiver.url, signatures: { ed25519: true, rsa: true } });
  });
  after(async () => {
    await s.emulator.close();
    await receiver.close();
  });
  beforeEach(async () => {
    await s.emulator.flushWebhooks();
    receiver.received.length = 0;
    receiver.respond = () => 200;
    await s.api.admin('DELETE', '/faults');
  });

  it('signs the exact body with Ed25519 (x-ghl-signature) and RSA-SHA256 (x-wh-signature), verifiable with the published keys', async () => {
    const pem = await fetch(`${s.api.url}/_emulator/webhook-public-key`).then((r) => r.text());
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
    const key = createPublicKey(pem);
    assert.equal(key.asymmetricKeyType, 'ed25519');
    const rsaKey = createPublicKey(await fetch(`${s.api.url}/_emulator/webhook-public-key/rsa`).then((r) => r.text()));

    await s.api.post('/contacts/', { locationId: s.locationId, email: 'signed@example.com', firstName: 'Zoë' });
    await s.emulator.flushWebhooks();
    const hook = receiver.ofType('ContactCreate')[0];
    assert.ok(hook);
    const sig = String(hook.headers['x-ghl-signature']);
    assert.equal(verify(null, hook.raw, key, Buffer.from(sig, 'base64')), true);
    assert.equal(
      verify('sha256', hook.raw, rsaKey, Buffer.from(String(hook.headers['x-wh-signature']), 'base64')),
      true,
    );
    // a single changed byte fails
    const tampered = Buffer.from(hook.raw);
    tampered[tampered.length - 2] = tampered[tampered.length - 2]! ^ 1;
    assert.equal(verify(null, tampered, key, Buffer.from(sig, 'base64')), false);

    assert.equal(hook.payload.type, 'ContactCreate');
    assert.equal(hook.payload.locationId, s.locationId);
    assert.equal(typeof hook.payload.webhookId, 'string');
    assert.ok(!Number.isNaN(Date.parse(String(hook.payload.timestamp))));
    assert.equal(hook.payload.firstName, 'Zoë');
  });

  it('drops the legacy RSA signature when switched off', async () => {
    await s.api.admin('POST', '/app', { signatures: { rsa: false } });
    await s.api.post('/contacts/', { locationId: s.locationId, email: 'norsa@example.com' });
    await s.emulator.flushWebhooks();
    const hook = receiver.ofType('ContactCreate')[0]!;
    assert.equal(hook.headers['x-wh-signature'], undefined);
    assert.ok(hook.headers['x-ghl-signature']);
    await s.api.admin('POST', '/app', { signatures: { rsa: true } });
  });

  it('retries only on 429, up to 6 times', async () => {
    receiver.respond = () => 429;
    await s.api.post('/contacts/', { locationId: s.locationId, email: 'retry429@example.com' });
    await s.emulator.flushWebhooks();
    assert.equal(receiver.received.length, 7, 'first attempt + 6 retries');
    const ids = new Set(receiver.received.map((h) => h.payload.webhookId));
    assert.equal(ids.size, 1, 'the same event each time');

    receiver.received.length = 0;
    receiver.respond = (_hook, index) => (index < 2 ? 429 : 200);
    await s.api.post('/contacts/', { locationId: s.locationId, email: 'retry-then-ok@example.com' });
    await s.emulator.flushWebhooks();
    assert.equal(receiver.received.length, 3);
    const log = await s.api.admin('GET', '/webhooks?type=ContactCreate');
    const events = log.body.events as Array<{
      payload: { email?: string };
      delivery: { state: string; attempts: unknown[] };
    }>;
    const last = events.find((e) => e.payload.email === 'retry-then-ok@example.com')!;
    assert.equal(last.delivery.state, 'delivered');
    assert.equal(last.delivery.attempts.length, 3);
  });

  it('loses the event when the endpoint answers 500 or times out (no retry)', async () => {
    receiver.respond = () => 500;
    await s.api.post('/contacts/', { locationId: s.locationId, email: 'lost500@example.com' });
    await s.emulator.flushWebhooks();
    assert.equal(receiver.received.length, 1);
    receiver.received.length = 0;
    receiver.respond = () => 'hang';
    await s.api.post('/contacts/', { locationId: s.locationId, email: 'timeout@example.com' });
    await s.emulator.flushWebhooks();
    assert.equal(receiver.received.length, 1);
    const log = await s.api.admin('GET', '/webhooks?type=ContactCreate');
    const events = log.body.events as Array<{
      payload: { email?: string };
      delivery: { state: string; attempts: Array<{ error?: string }> };
    }>;
    const timedOut = events.find((e) => e.payload.email === 'timeout@example.com')!;
    assert.equal(timedOut.delivery.state, 'failed');
    assert.equal(timedOut.delivery.attempts[0]!.error, 'timeout');
  });

  it('duplicates and drops webhooks when told to', async () => {
    await s.api.admin('PUT', '/faults', { seed: 7, webhooks: { duplicate: 1 } });
    await s.api.post('/contacts/', { locationId: s.locationId, email: 'dupe-hook@example.com' });
    await s.emulator.flushWebhooks();
    const copies = receiver.ofType('ContactCreate');
    assert.equal(copies.length, 2);
    assert.equal(copies[0]!.payload.webhookId, copies[1]!.payload.webhookId);
    receiver.received.length = 0;
    await s.api.admin('PUT', '/faults', { webhooks: { drop: 1 } });
    await s.api.post('/contacts/', { locationId: s.locationId, email: 'dropped-hook@example.com' });
    await s.emulator.flushWebhooks();
    assert.equal(receiver.received.length, 0);
    const faults = await s.api.admin('GET', '/faults');
    assert.ok(Number((faults.body.stats as Record<string, number>)['webhook.drop']) >= 1);
  });

  it('sends only subscribed events', async () => {
    await s.api.admin('POST', '/app', { events: ['ContactTagUpdate'] });
    const c = await s.api.post('/contacts/', { locationId: s.locationId, email: 'subs@example.com' });
    await s.api.post(`/contacts/${(c.body.contact as { id: string }).id}/tags`, { tags: ['x'] });
    await s.emulator.flushWebhooks();
    assert.deepEqual(receiver.types(), ['ContactTagUpdate']);
    await s.api.admin('POST', '/app', { events: null });
  });

  it('sends AppInstall (INSTALL) and AppUninstall (UNINSTALL); uninstall revokes the tokens', async () => {
    await s.api.admin('POST', `/locations/${s.locationId}/install`);
    await s.api.admin('POST', `/locations/${s.locationId}/uninstall`);
    await waitFor(() => receiver.received.length >= 2);
    const [install, uninstall] = receiver.received;
    assert.equal(install!.payload.type, 'INSTALL');
    assert.equal(install!.payload.locationId, s.locationId);
    assert.equal(typeof install!.payload.appId, 'string');
    assert.equal(typeof install!.payload.companyId, 'string');
    assert.equal(uninstall!.payload.type, 'UNINSTALL');
    assert.equal((await s.api.get(`/locations/${s.locationId}`)).status, 401);
    // no marketplace events for a location the app is not installed on
    await s.api.admin('POST', `/locations/${s.locationId}/actions/contact`, { email: 'after-uninstall@example.com' });
    await s.emulator.flushWebhooks();
    assert.equal(receiver.received.length, 2);
    s.api.token = String((await s.api.admin('POST', '/tokens', { locationId: s.locationId })).body.access_token);
  });
});

describe('HighLevel emulator: reordered webhooks (real-time clock)', () => {
  let s: Setup;
  let receiver: WebhookReceiver;
  before(async () => {
    // clock factor 1: a reordered event is held back until the next one goes out (or 2 s)
    s = await setup();
    receiver = await new WebhookReceiver().start();
    await s.api.admin('POST', '/app', { webhookUrl: receiver.url });
  });
  after(async () => {
    await s.emulator.close();
    await receiver.close();
  });

  it('reorders webhooks when told to', async () => {
    await s.api.admin('PUT', '/faults', { webhooks: { reorder: 1 } });
    const a = await s.api.post('/contacts/', { locationId: s.locationId, email: 'first@example.com' });
    await s.api.admin('DELETE', '/faults');
    const b = await s.api.post('/contacts/', { locationId: s.locationId, email: 'second@example.com' });
    await s.emulator.flushWebhooks();
    const order = receiver.ofType('ContactCreate').map((h) => h.payload.id);
    assert.deepEqual(order, [(b.body.contact as { id: string }).id, (a.body.contact as { id: string }).id]);
  });
});
