import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { startStack, type Stack } from '../support/stack.ts';
import { listActivity } from '../../src/store/activity.ts';

describe('HighLevel webhook intake', () => {
  let s: Stack;
  const inbox = async () => Number((await s.t.db.query<{ n: string }>('SELECT count(*) AS n FROM inbox')).rows[0]!.n);
  const body = () =>
    JSON.stringify({ type: 'OrderCreate', locationId: s.locationId, _id: '6578278e879ad2646715ba9c', altId: s.locationId, altType: 'location', status: 'completed', webhookId: `forged-${Date.now()}`, timestamp: new Date().toISOString() });

  before(async () => {
    s = await startStack({ workers: false });
  });
  after(async () => {
    await s.close();
  });

  it('refuses a body signed with another Ed25519 key and stores nothing', async () => {
    const before = await inbox();
    const { privateKey } = generateKeyPairSync('ed25519');
    const payload = body();
    const response = await fetch(`${s.url}/webhooks/highlevel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-ghl-signature': sign(null, Buffer.from(payload), privateKey).toString('base64') },
      body: payload,
    });
    assert.equal(response.status, 401);
    assert.equal(await inbox(), before);
    const [refusal] = await listActivity(s.t.db, { flow: 'webhooks', status: 'error' });
    assert.match(refusal!.message, /x-ghl-signature does not match/);
  });

  it('refuses an unsigned body', async () => {
    const response = await fetch(`${s.url}/webhooks/highlevel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body() });
    assert.equal(response.status, 401);
  });

  it('accepts the events the emulator signs, once each', async () => {
    const before = await inbox();
    const response = await fetch(`${s.hl.url}/_emulator/locations/${s.locationId}/actions/order-form-payment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contact: { firstName: 'Signed', lastName: 'Event', email: 'signed@example.com' }, items: [{ name: 'Thing', amount: 3 }] }),
    });
    assert.equal(response.status, 200);
    await s.hl.flushWebhooks();
    const stored = await s.t.db.query<{ event_type: string }>(`SELECT event_type FROM inbox WHERE provider = 'highlevel' ORDER BY id`);
    assert.ok((await inbox()) - before >= 2, 'OrderCreate and OrderStatusUpdate were stored');
    assert.ok(stored.rows.some((r) => r.event_type === 'OrderCreate'));
  });
});
