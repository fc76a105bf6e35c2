// Issue 17, finding 6: a password change ends every other session; a request cannot hold a connection open by
// trickling its body; `Origin: null` and a malformed session cookie are refused (403, a cleared cookie), never 500.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { startStack, type Stack } from '../support/stack.ts';
import { buildServer } from '../../src/server/app.ts';
import { hashPassword, registerAuth } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a different horse, stapled';

async function listen(app: FastifyInstance): Promise<{ url: string; port: number }> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, port };
}

describe('sessions and requests', () => {
  let s: Stack;
  const call = (
    method: string,
    path: string,
    options: { body?: unknown; cookie?: string; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${s.url}${path}`, {
      method,
      headers: {
        ...(options.cookie ? { cookie: options.cookie } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  const login = async (username: string, password: string): Promise<string> => {
    const r = await call('POST', '/api/auth/login', { body: { username, password } });
    assert.equal(r.status, 200);
    return r.headers.get('set-cookie')!.split(';')[0]!;
  };
  const whoami = async (cookie: string) =>
    ((await (await call('GET', '/api/auth/state', { cookie })).json()) as { user: { username: string } | null }).user
      ?.username ?? null;

  before(async () => {
    s = await startStack({ workers: false });
    for (const username of ['admin', 'other', 'third'])
      await createAdmin(s.t.db, { username, passwordHash: await hashPassword(PASSWORD) });
  });
  after(async () => {
    await s?.close();
  });

  it('changing the password ends every other session of that admin, keeps the one that changed it, and leaves other admins alone', async () => {
    const laptop = await login('admin', PASSWORD);
    const stolen = await login('admin', PASSWORD);
    const colleague = await login('other', PASSWORD);
    const wrong = await call('POST', '/api/auth/password', {
      cookie: laptop,
      body: { currentPassword: 'not it at all', newPassword: NEW_PASSWORD },
    });
    assert.equal(wrong.status, 403);
    const changed = await call('POST', '/api/auth/password', {
      cookie: laptop,
      body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
    });
    assert.equal(changed.status, 200, await changed.clone().text());
    assert.equal(await whoami(laptop), 'admin');
    assert.equal(await whoami(stolen), null, 'the other session is over');
    assert.equal(await whoami(colleague), 'other');
    assert.equal(
      (await call('POST', '/api/auth/login', { body: { username: 'admin', password: PASSWORD } })).status,
      401,
    );
    await login('admin', NEW_PASSWORD);
  });

  it('resetting the password at start (LEDGERLINK_ADMIN_PASSWORD) ends the sessions opened with the old one', async () => {
    const before = await login('other', PASSWORD);
    const app = (await import('fastify')).default();
    await registerAuth(app, {
      db: s.t.db,
      secureCookies: false,
      initialAdmin: { username: 'other', password: NEW_PASSWORD },
      announce: () => {},
    });
    await app.close();
    assert.equal(await whoami(before), null);
    const again = await login('other', NEW_PASSWORD);
    // The same password at the next start changes nothing: its sessions stay.
    const app2 = (await import('fastify')).default();
    await registerAuth(app2, {
      db: s.t.db,
      secureCookies: false,
      initialAdmin: { username: 'other', password: NEW_PASSWORD },
      announce: () => {},
    });
    await app2.close();
    assert.equal(await whoami(again), 'other');
  });

  it('refuses Origin: null on a state-changing call with 403', async () => {
    const cookie = await login('third', PASSWORD);
    const r = await call('POST', '/api/auth/logout', { cookie, headers: { origin: 'null' } });
    assert.equal(r.status, 403);
    assert.equal(await whoami(cookie), 'third');
  });

  it('answers a malformed session cookie as no session, and clears it', async () => {
    for (const cookie of ['ll_session=%E0%A4%A', 'll_session=%', 'll_session=not-a-session']) {
      const state = await call('GET', '/api/auth/state', { cookie });
      assert.equal(state.status, 200, cookie);
      assert.equal(((await state.json()) as { user: unknown }).user, null);
      assert.match(state.headers.get('set-cookie') ?? '', /ll_session=;.*Max-Age=0/, `${cookie}: cleared`);
      const api = await call('GET', '/api/connections', { cookie });
      assert.equal(api.status, 401, cookie);
    }
  });

  it('sets request and connection timeouts by default', async () => {
    const app = await buildServer(s.engine);
    try {
      assert.ok(
        app.server.requestTimeout > 0 && app.server.requestTimeout <= 60_000,
        `requestTimeout ${app.server.requestTimeout}`,
      );
      assert.ok(app.server.timeout > 0 && app.server.timeout <= 120_000, `connection timeout ${app.server.timeout}`);
    } finally {
      await app.close();
    }
  });

  it('closes a connection whose body trickles in one byte at a time, within a bounded time', async () => {
    const app = await buildServer(s.engine, { requestTimeoutMs: 1000 });
    const { port } = await listen(app);
    try {
      const started = Date.now();
      const outcome = await new Promise<{ closedAfterMs: number; answer: string }>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let answer = '';
        let sent = 0;
        const body = JSON.stringify({ username: 'admin', password: 'x'.repeat(60) });
        const timer = setInterval(() => {
          if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
        }, 200);
        const deadline = setTimeout(() => {
          clearInterval(timer);
          socket.destroy();
          reject(
            new Error(`the server still held the connection after ${Date.now() - started} ms (${sent} bytes sent)`),
          );
        }, 12_000);
        socket.on('connect', () =>
          socket.write(
            `POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
          ),
        );
        socket.on('data', (d) => (answer += d.toString()));
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(timer);
          clearTimeout(deadline);
          resolve({ closedAfterMs: Date.now() - started, answer });
        });
      });
      assert.ok(outcome.closedAfterMs < 10_000, `closed after ${outcome.closedAfterMs} ms`);
      assert.match(outcome.answer, /^HTTP\/1\.1 408/);
    } finally {
      await app.close();
    }
  });
});
