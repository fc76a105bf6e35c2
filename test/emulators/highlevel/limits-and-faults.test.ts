import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { obj, setup, type Setup } from './helpers.ts';

describe('HighLevel emulator: rate limits', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });
  after(async () => {
    await s.emulator.close();
  });

  it('reports the five rate-limit headers on every response, real limits by default', async () => {
    const r = await s.api.get(`/locations/${s.locationId}`);
    assert.equal(r.headers.get('x-ratelimit-limit-daily'), '200000');
    assert.equal(r.headers.get('x-ratelimit-daily-remaining'), '199999');
    assert.equal(r.headers.get('x-ratelimit-interval-milliseconds'), '10000');
    assert.equal(r.headers.get('x-ratelimit-max'), '100');
    assert.equal(r.headers.get('x-ratelimit-remaining'), '99');
    const unauth = await s.api.get(`/locations/${s.locationId}`, { version: null });
    assert.equal(unauth.headers.get('x-ratelimit-max'), '100');
  });

  it('answers 429 after 100 requests in 10 s, per app and location, then recovers', async () => {
    const fresh = await s.api.admin('POST', '/locations', { country: 'CA' });
    const locationId = String(fresh.body.locationId);
    const token = String((await s.api.admin('POST', '/tokens', { locationId })).body.access_token);
    const statuses: number[] = [];
    for (let i = 0; i < 101; i++) statuses.push((await s.api.get(`/locations/${locationId}`, { token })).status);
    assert.equal(statuses.filter((x) => x === 200).length, 100);
    const limited = await s.api.get(`/locations/${locationId}`, { token });
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.body, { statusCode: 429, message: 'Too Many Requests' });
    assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // another location keeps its own budget
    assert.equal((await s.api.get(`/locations/${s.locationId}`)).status, 200);
    await s.api.admin('POST', '/clock/advance', { seconds: 10 });
    assert.equal((await s.api.get(`/locations/${locationId}`, { token })).status, 200);
  });

  it('scales limits by a factor and lifts them', async () => {
    await s.api.admin('POST', '/rate-limits', { factor: 0.05 });
    const token = String((await s.api.admin('POST', '/tokens', { locationId: s.locationId })).body.access_token);
    await s.api.admin('POST', '/clock/advance', { seconds: 10 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await s.api.get(`/locations/${s.locationId}`, { token })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    await s.api.admin('POST', '/rate-limits', { lifted: true });
    for (let i = 0; i < 150; i++) assert.equal((await s.api.get(`/locations/${s.locationId}`, { token })).status, 200);
    await s.api.admin('POST', '/rate-limits', { factor: 1 });
  });
});

describe('HighLevel emulator: fault injection', () => {
  let s: Setup;
  before(async () => {
    s = await setup({ limitFactor: Infinity });
  });
  after(async () => {
    await s.emulator.close();
  });
  beforeEach(async () => {
    await s.api.admin('DELETE', '/faults');
  });

  it('injects 429, 500 and 503 on matching requests only', async () => {
    await s.api.admin('PUT', '/faults', {
      rules: [
        { kind: 'error503', rate: 1, path: '/contacts/search', count: 1 },
        { kind: 'error500', rate: 1, method: 'GET', path: '/locations/', count: 1 },
        { kind: 'error429', rate: 1, path: '/invoices/', count: 1 },
      ],
    });
    const search = await s.api.post('/contacts/search', { locationId: s.locationId, pageLimit: 1 });
    assert.equal(search.status, 503);
    assert.equal(
      (await s.api.post('/contacts/search', { locationId: s.locationId, pageLimit: 1 })).status,
      200,
      'count: 1 retires the rule',
    );
    assert.equal((await s.api.get(`/locations/${s.locationId}`)).status, 500);
    const limited = await s.api.get(`/invoices/?altId=${s.locationId}&altType=location&limit=1&offset=0`);
    assert.equal(limited.status, 429);
    assert.ok(limited.headers.get('retry-after'));
    const stats = obj((await s.api.admin('GET', '/faults')).body.stats);
    assert.equal(stats.error503, 1);
    assert.equal(stats.error500, 1);
    assert.equal(stats.error429, 1);
  });

  it('adds latency', async () => {
    await s.api.admin('POST', '/faults/rules', { kind: 'latency', rate: 1, latencyMs: 250, count: 1 });
    const t0 = Date.now();
    const r = await s.api.get(`/locations/${s.locationId}`);
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 >= 240);
  });

  it('drops the connection without an answer, and nothing is written', async () => {
    await s.api.admin('POST', '/faults/rules', { kind: 'drop', rate: 1, method: 'POST', path: '/contacts/', count: 1 });
    await assert.rejects(s.api.post('/contacts/', { locationId: s.locationId, email: 'dropped@example.com' }));
    const lookup = await s.api.get(`/contacts/search/duplicate?locationId=${s.locationId}&email=dropped%40example.com`);
    assert.equal(lookup.body.contact, null);
  });

  it('commits the write but loses the answer', async () => {
    await s.api.admin('POST', '/faults/rules', {
      kind: 'loseAnswer',
      rate: 1,
      method: 'POST',
      path: '/contacts/',
      count: 1,
    });
    await assert.rejects(s.api.post('/contacts/', { locationId: s.locationId, email: 'committed@example.com' }));
    const lookup = await s.api.get(
      `/contacts/search/duplicate?locationId=${s.locationId}&email=committed%40example.com`,
    );
    assert.equal(obj(lookup.body.contact).email, 'committed@example.com');
  });

  it('revokes the presented token', async () => {
    const token = String((await s.api.admin('POST', '/tokens', { locationId: s.locationId })).body.access_token);
    await s.api.admin('POST', '/faults/rules', { kind: 'revokeToken', rate: 1, count: 1 });
    const r = await s.api.get(`/locations/${s.locationId}`, { token });
    assert.equal(r.status, 401);
    assert.equal((await s.api.get(`/locations/${s.locationId}`, { token })).status, 401, 'stays revoked');
  });

  it('refuses a malformed fault configuration with 422', async () => {
    const r = await s.api.admin('PUT', '/faults', { rules: [{ kind: 'meteor', rate: 2 }] });
    assert.equal(r.status, 422);
  });

  it('serves simple requests fast with limits lifted (keep-alive, 16 in flight; client and server share one thread here)', async () => {
    const total = 3000;
    const url = new URL(`${s.api.url}/contacts/search/duplicate?locationId=${s.locationId}&email=nobody%40example.com`);
    let done = 0;
    const t0 = performance.now();
    const agentOptions = { keepAlive: true };
    const { Agent } = await import('node:http');
    const agent = new Agent({ ...agentOptions, maxSockets: 16 });
    const one = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          url,
          { agent, headers: { authorization: `Bearer ${s.api.token}`, version: '2021-07-28' } },
          (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const worker = async (): Promise<void> => {
      while (done < total) {
        done++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const seconds = (performance.now() - t0) / 1000;
    agent.destroy();
    const perSecond = total / seconds;
    console.log(`# throughput ${Math.round(perSecond)} requests/s`);
    assert.ok(perSecond > 250, `only ${Math.round(perSecond)} requests/s`);
  });
});
