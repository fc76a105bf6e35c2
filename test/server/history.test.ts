// The history routes over real HTTP: the body is checked (a date, not after the connection), another connection's id
// answers 404, and the card shows the dry run, the backfill under way with its progress, and its cancel. The workers
// do not run here: the backfill stays where the routes put it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startStack, type Stack } from '../support/stack.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';

const PASSWORD = 'correct horse battery staple';
interface Totals {
  count: number;
  byCurrency: Record<string, number>;
}
interface Plan {
  from: string;
  payments: Totals;
  invoices: Totals;
  sample: unknown[];
}
interface State {
  syncStart: string | null;
  dryRun: Plan | null;
  run: { state: string; total: number; cancelledAt: string | null; planned: { payments: Totals } | null } | null;
}
/** Every answer these tests read: a problem, a plan, the history state, or a card holding it. */
type Json = Partial<Plan> &
  Partial<State> & {
    error?: string;
    message?: string;
    history?: State;
    progress?: { history: unknown };
    paths?: Record<string, Record<string, unknown> | undefined>;
  };

describe('history API', () => {
  let stack: Stack;
  let cookie: string;
  let base: string;
  const today = () => new Date().toISOString().slice(0, 10);

  const call = async (method: string, url: string, body?: unknown) => {
    const response = await fetch(`${stack.url}${url}`, {
      method,
      headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, json: (await response.json()) as Json };
  };

  before(async () => {
    stack = await startStack({
      workers: false,
      beforeConnect: async ({ hl, locationId }) => {
        for (const amount of [12.5, 30]) {
          const response = await fetch(`${hl.url}/_emulator/locations/${locationId}/actions/order-form-payment`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              contact: { firstName: 'Early', lastName: `Buyer${amount}`, email: `early${amount}@example.com` },
              items: [{ name: 'Seat', amount }],
            }),
          });
          assert.equal(response.status, 200);
        }
      },
    });
    await createAdmin(stack.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
    const login = await fetch(`${stack.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    base = `/api/connections/${stack.connection.id}/history`;
  });
  after(async () => {
    await stack?.close();
  });

  it('refuses what is not a date, a date after the connection, and fields it does not know', async () => {
    const notADate = await call('POST', `${base}/dry-run`, { from: 'last spring' });
    assert.equal(notADate.status, 400);
    assert.match(notADate.json.message ?? '', /from/);
    const impossible = await call('POST', `${base}/dry-run`, { from: '2026-02-30' });
    assert.equal(impossible.status, 400);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const later = await call('POST', `${base}/dry-run`, { from: tomorrow });
    assert.equal(later.status, 400);
    assert.equal(later.json.error, 'invalid_date');
    assert.match(later.json.message ?? '', /after the connection|in the future/);
    const startLater = await call('POST', base, { from: tomorrow });
    assert.equal(startLater.status, 400);
    const extra = await call('POST', base, { from: today(), to: today() });
    assert.equal(extra.status, 400);
    const missing = await call('POST', base, {});
    assert.equal(missing.status, 400);
  });

  it('answers 404 for a connection that is not there, on every route', async () => {
    const other = '/api/connections/no-such-connection/history';
    assert.equal((await call('GET', other)).status, 404);
    assert.equal((await call('POST', `${other}/dry-run`, { from: today() })).status, 404);
    assert.equal((await call('POST', other, { from: today() })).status, 404);
    assert.equal((await call('DELETE', other)).status, 404);
  });

  it('has nothing to cancel at first, and shows no history on the card', async () => {
    const cancel = await call('DELETE', base);
    assert.equal(cancel.status, 409);
    assert.match(cancel.json.message ?? '', /No backfill is under way/);
    const card = await call('GET', `/api/connections/${stack.connection.id}`);
    assert.equal(card.status, 200);
    assert.deepEqual(card.json.history, { syncStart: null, dryRun: null, run: null });
    assert.equal(card.json.progress?.history, null);
  });

  it('a dry run answers the counts and exact totals, and the card keeps it until a run starts', async () => {
    const dry = await call('POST', `${base}/dry-run`, { from: today() });
    assert.equal(dry.status, 200, JSON.stringify(dry.json));
    assert.equal(dry.json.payments?.count, 2);
    assert.deepEqual(dry.json.payments?.byCurrency, { USD: 4250 });
    assert.equal(dry.json.invoices?.count, 0);
    assert.equal(dry.json.sample?.length, 2);
    const card = await call('GET', `/api/connections/${stack.connection.id}`);
    assert.equal(card.json.history?.dryRun?.payments.count, 2);
    assert.equal(card.json.history?.run, null);
  });

  it('starts a backfill (progress on the card), refuses a second at once, and cancels it', async () => {
    const started = await call('POST', base, { from: today() });
    assert.equal(started.status, 200, JSON.stringify(started.json));
    assert.equal(started.json.run?.state, 'waiting', 'it waits for the customer import (no workers here)');
    assert.equal(started.json.run?.total, 2);
    assert.equal(started.json.syncStart, null, 'the sync start moves when the backfill runs');
    assert.equal(started.json.dryRun, null, 'the dry run became the run');
    const card = await call('GET', `/api/connections/${stack.connection.id}`);
    assert.deepEqual(card.json.progress?.history, { done: 0, total: 2 });
    const again = await call('POST', base, { from: today() });
    assert.equal(again.status, 409);
    assert.match(again.json.message ?? '', /under way/);
    const cancelled = await call('DELETE', base);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.json.run?.state, 'cancelled');
    assert.equal(cancelled.json.syncStart, null, 'records not reached are before the sync start again');
    const state = await call('GET', base);
    assert.equal(state.json.run?.state, 'cancelled');
    assert.ok(state.json.run?.cancelledAt);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${stack.url}/api/openapi.json`)).json()) as Json;
    assert.ok(doc.paths?.['/api/connections/{id}/history/dry-run']?.post);
    assert.ok(doc.paths?.['/api/connections/{id}/history']?.delete);
  });
});

describe('history chosen on the connect form', () => {
  let stack: Stack;
  let cookie: string;
  let connectionId: string;
  let realmId: string;
  const today = () => new Date().toISOString().slice(0, 10);

  const call = async (method: string, url: string, body?: unknown) => {
    const response = await fetch(`${stack.url}${url}`, {
      method,
      redirect: 'manual',
      headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      json: (text ? JSON.parse(text) : {}) as Json & {
        authorizeUrl?: string;
      },
    };
  };

  before(async () => {
    stack = await startStack({ engine: { limitFactor: 20 } });
    await createAdmin(stack.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
    const login = await fetch(`${stack.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    // A business that installed the app on its CRM location, took payments there, and connects its books now.
    const location = stack.hl.createLocation({ country: 'US', name: 'Late Books' });
    realmId = stack.qbo.admin.createCompany({ country: 'US', name: 'Late Books LLC' }).realmId;
    const pending = await stack.engine.connections.create({ name: 'Late Books' });
    const token = stack.hl.mintToken(location.id);
    await stack.engine.connections.attachHighLevel(pending.id, {
      locationId: location.id,
      country: 'US',
      tokens: {
        accessToken: token.access_token,
        refreshToken: token.refresh_token,
        accessExpiresAt: new Date(Date.now() + 86_399_000).toISOString(),
      },
    });
    connectionId = pending.id;
    for (const amount of [20, 35.75]) {
      const response = await fetch(`${stack.hl.url}/_emulator/locations/${location.id}/actions/order-form-payment`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          contact: { firstName: 'Before', lastName: `Books${amount}`, email: `before${amount}@example.com` },
          items: [{ name: 'Lesson', amount }],
        }),
      });
      assert.equal(response.status, 200);
    }
  });
  after(async () => {
    await stack?.close();
  });

  it('refuses a day in the future on the form, before any consent page', async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const refused = await call('POST', `/api/connections/${connectionId}/connect-quickbooks`, {
      historyFrom: tomorrow,
    });
    assert.equal(refused.status, 400);
    assert.match(refused.json.message ?? '', /historyFrom/);
  });

  it('lists its dry run once both sides are connected, writes nothing until Start, then brings it over', async () => {
    const started = await call('POST', `/api/connections/${connectionId}/connect-quickbooks`, { historyFrom: today() });
    assert.equal(started.status, 200, JSON.stringify(started.json));
    const authorize = new URL(String(started.json.authorizeUrl));
    const consent = await fetch(`${stack.qbo.url}/connect/oauth2`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...Object.fromEntries(authorize.searchParams),
        realmId,
        decision: 'allow',
      }).toString(),
    });
    assert.equal(consent.status, 302);
    const back = new URL(consent.headers.get('location')!);
    const callback = await call('GET', `${back.pathname}${back.search}`);
    assert.equal(callback.status, 303);
    const listed = await eventually(
      async () => {
        const state = await call('GET', `/api/connections/${connectionId}/history`);
        return state.json.dryRun ? state.json : undefined;
      },
      60_000,
      'the dry run of the day chosen at connection',
    );
    assert.equal(listed.dryRun?.from, today());
    assert.equal(listed.dryRun?.payments.count, 2);
    assert.deepEqual(listed.dryRun?.payments.byCurrency, { USD: 5575 });
    assert.equal(listed.run, null, 'nothing started');
    assert.equal(stack.qbo.admin.listEntities(realmId, 'SalesReceipt').length, 0, 'nothing written before Start');

    const start = await call('POST', `/api/connections/${connectionId}/history`, { from: today() });
    assert.equal(start.status, 200, JSON.stringify(start.json));
    const done = await eventually(
      async () => {
        const state = await call('GET', `/api/connections/${connectionId}/history`);
        return state.json.run?.state === 'finished' ? state.json : undefined;
      },
      60_000,
      'the backfill started from the card to finish',
    );
    assert.equal(done.syncStart, today());
    assert.equal(done.run?.planned?.payments.count, 2, 'the plan is the dry run shown');
    const receipts = stack.qbo.admin.listEntities(realmId, 'SalesReceipt');
    assert.deepEqual(
      receipts.map((r) => Math.round(Number(r.TotalAmt) * 100)).sort((a, b) => a - b),
      [2000, 3575],
    );
    const card = await call('GET', `/api/connections/${connectionId}`);
    assert.deepEqual(card.json.progress?.history, { done: 2, total: 2 });
  });
});
