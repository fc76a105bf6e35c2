// Issue 17, findings 2 and 3: the login limit holds under concurrency (counted before the password hash, with a cap
// on hashes in flight), and behind a trusted reverse proxy it keys on the client address the proxy reports, per
// account and address: one client's bad logins lock out neither the other clients nor the other accounts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startStack, type Stack } from '../support/stack.ts';
import { buildServer } from '../../src/server/app.ts';
import { hashPassword, passwordHashesHighWater } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { parseTrustProxy } from '../../src/config.ts';
import { LoginThrottle } from '../../src/server/loginThrottle.ts';

const PASSWORD = 'correct horse battery staple';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

describe('login throttling', () => {
  let s: Stack;
  let proxied: FastifyInstance;
  let proxiedUrl: string;
  const login = (base: string, username: string, password: string, forwardedFor?: string) =>
    fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      body: JSON.stringify({ username, password }),
    });
  const statuses = (responses: Response[]) =>
    responses.reduce<Record<number, number>>((n, r) => {
      n[r.status] = (n[r.status] ?? 0) + 1;
      return n;
    }, {});

  before(async () => {
    s = await startStack({ workers: false });
    for (const username of ['admin', 'alice', 'bob', 'carol'])
      await createAdmin(s.t.db, { username, passwordHash: await hashPassword(PASSWORD) });
    // The deployment the docs recommend: ledgerlink behind a reverse proxy on the same host.
    proxied = await buildServer(s.engine, { trustProxy: '127.0.0.1' });
    proxiedUrl = await listen(proxied);
  });
  after(async () => {
    await proxied?.close();
    await s?.close();
  });

  it('200 parallel wrong logins from one address get at most 10 answers of 401, the rest 429, and the right password after them is refused too', async () => {
    const responses = await Promise.all(Array.from({ length: 200 }, () => login(s.url, 'admin', 'wrong password')));
    const counts = statuses(responses);
    assert.ok((counts[401] ?? 0) <= 10, `401 x ${counts[401] ?? 0}`);
    assert.equal((counts[401] ?? 0) + (counts[429] ?? 0), 200, JSON.stringify(counts));
    assert.equal(
      (await login(s.url, 'admin', PASSWORD)).status,
      429,
      'the lock holds for the right password from that address',
    );
    assert.ok(passwordHashesHighWater() <= 4, `at most 4 password hashes at once, saw ${passwordHashesHighWater()}`);
  });

  it('caps the password hashes in flight when many clients log in at once', async () => {
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => login(proxiedUrl, `nobody-${i}`, 'wrong password', `198.51.100.${i + 1}`)),
    );
    assert.deepEqual(
      Object.keys(statuses(responses)).filter((c) => c !== '401' && c !== '429'),
      [],
    );
    assert.ok(passwordHashesHighWater() <= 4, `at most 4 password hashes at once, saw ${passwordHashesHighWater()}`);
  });

  it('behind the trusted proxy, ten bad logins from one client lock out neither other clients nor other accounts', async () => {
    for (let i = 0; i < 12; i++) await login(proxiedUrl, 'alice', 'wrong password', '203.0.113.7');
    assert.equal(
      (await login(proxiedUrl, 'alice', PASSWORD, '203.0.113.7')).status,
      429,
      'the guessing client is locked out',
    );
    assert.equal(
      (await login(proxiedUrl, 'alice', PASSWORD, '203.0.113.8')).status,
      200,
      'alice from her own address logs in',
    );
    assert.equal(
      (await login(proxiedUrl, 'bob', PASSWORD, '203.0.113.7')).status,
      200,
      'another account from that address logs in',
    );
  });

  it('without LEDGERLINK_TRUST_PROXY, X-Forwarded-For is not believed: a client cannot pick a fresh address per guess', async () => {
    for (let i = 0; i < 12; i++) await login(s.url, 'carol', 'wrong password', `192.0.2.${i + 1}`);
    assert.equal((await login(s.url, 'carol', PASSWORD, '192.0.2.200')).status, 429);
  });
});

describe('LEDGERLINK_TRUST_PROXY', () => {
  it('reads unset as trusting no proxy, a list as the proxies, and a number as proxy hops', () => {
    assert.equal(parseTrustProxy(undefined), false);
    assert.equal(parseTrustProxy('false'), false);
    assert.equal(parseTrustProxy('true'), true);
    assert.equal(parseTrustProxy('127.0.0.1, 10.0.0.0/8'), '127.0.0.1, 10.0.0.0/8');
    const hops = parseTrustProxy('1');
    assert.equal(typeof hops, 'function');
    if (typeof hops === 'function') {
      assert.equal(hops('127.0.0.1', 0), true);
      assert.equal(hops('203.0.113.9', 1), false);
    }
  });
});

describe('LoginThrottle', () => {
  it('counts attempts per account and address in a window, and a success starts afresh', () => {
    const throttle = new LoginThrottle({ attempts: 3, windowMs: 1000 });
    for (let i = 0; i < 3; i++) assert.equal(throttle.take('Alice', '203.0.113.1', 0), true);
    assert.equal(throttle.take('alice', '203.0.113.1', 10), false, 'user names are compared without case');
    assert.equal(throttle.take('alice', '203.0.113.2', 10), true);
    assert.equal(throttle.take('bob', '203.0.113.1', 10), true);
    assert.equal(throttle.take('alice', '203.0.113.1', 1001), true, 'the window has passed');
    throttle.succeeded('alice', '203.0.113.2');
    for (let i = 0; i < 3; i++) assert.equal(throttle.take('alice', '203.0.113.2', 20), true);
  });

  it('keeps a bounded number of keys however many addresses guess', () => {
    const throttle = new LoginThrottle({ attempts: 1, windowMs: 1000, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) throttle.take('admin', `198.51.100.${i}`, 0);
    assert.ok((throttle as unknown as { counts: Map<string, unknown> }).counts.size <= 100);
  });
});
