// Two connections on one ledgerlink (two HighLevel locations, two QuickBooks companies): a webhook or a dashboard
// request for one can never read or change the other's data. Webhooks are hints that name records; each job reads
// the named record with its own connection's tokens, so an event that names another location's record (forged
// attribution, or a confused sender) finds nothing and writes nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { connectWithTokens } from '../../src/sync/connections/connect.ts';
import type { Connection } from '../../src/store/connections.ts';
import { listActivity } from '../../src/store/activity.ts';
import { buildServer } from '../../src/server/app.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';

type Rec = Record<string, unknown>;
const PASSWORD = 'isolation test password';

describe('isolation between connections', () => {
  let s: Stack;
  let b: { connection: Connection; realmId: string; locationId: string };
  let dashboard: FastifyInstance;
  let dashboardUrl: string;
  let cookie: string;

  const pay = async (locationId: string, email: string, amount: number): Promise<Rec> => {
    const response = await fetch(`${s.hl.url}/_emulator/locations/${locationId}/actions/order-form-payment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        contact: { firstName: 'Same', lastName: 'Person', email },
        items: [{ name: 'Lesson', amount }],
      }),
    });
    assert.equal(response.status, 200);
    return (await response.json()) as Rec;
  };
  const settle = async () => {
    await s.hl.flushWebhooks();
    await s.engine.enqueuePolls();
    await new Promise((r) => setTimeout(r, 300));
    await s.engine.queue.idle(
      [QUEUES.pollPayments, QUEUES.crmOrder, QUEUES.crmTransaction, QUEUES.crmContact, QUEUES.qboCustomer],
      60_000,
    );
  };
  const customers = (realmId: string) => s.qbo.admin.listEntities(realmId, 'Customer');
  const receipts = (realmId: string) => s.qbo.admin.listEntities(realmId, 'SalesReceipt');
  const signedHighLevel = async (payload: Rec) => {
    const body = JSON.stringify({
      webhookId: `forged-${Math.random()}`,
      timestamp: new Date().toISOString(),
      ...payload,
    });
    const signature = sign(null, Buffer.from(body), createPrivateKey(s.hl.core.webhooks.exportKeys().ed25519)).toString(
      'base64',
    );
    return fetch(`${s.url}/webhooks/highlevel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-ghl-signature': signature },
      body,
    });
  };
  const api = async (method: string, path: string) => {
    const response = await fetch(`${dashboardUrl}${path}`, { method, headers: { cookie, origin: dashboardUrl } });
    return { status: response.status, text: await response.text() };
  };

  before(async () => {
    s = await startStack();
    const realmId = s.qbo.admin.createCompany({ country: 'US', name: 'Books B' }).realmId;
    const location = s.hl.createLocation({ country: 'US', name: 'Agency client B' });
    const qboTokens = s.qbo.admin.mintToken(realmId);
    const hlTokens = s.hl.mintToken(location.id);
    const connection = await connectWithTokens(s.engine, {
      name: 'Connection B',
      quickbooks: {
        realmId,
        accessToken: qboTokens.access_token,
        refreshToken: qboTokens.refresh_token,
        expiresIn: qboTokens.expires_in,
      },
      highlevel: {
        locationId: location.id,
        accessToken: hlTokens.access_token,
        refreshToken: hlTokens.refresh_token,
        expiresIn: 86_399,
      },
    });
    b = { connection, realmId, locationId: location.id };
    // The admin is made before the server starts: hashing it inside the plugin can outlast Fastify's plugin timeout
    // on a loaded machine.
    await createAdmin(s.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
    dashboard = await buildServer(s.engine);
    await dashboard.listen({ port: 0, host: '127.0.0.1' });
    const address = dashboard.server.address();
    dashboardUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const login = await fetch(`${dashboardUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: dashboardUrl },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    assert.equal(login.status, 200);
    cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  });
  after(async () => {
    await dashboard?.close();
    await s.close();
  });

  it('the same person paying in both locations lands in each company once, never in the other', async () => {
    const inA = await pay(s.locationId, 'shared.person@example.com', 10);
    const inB = await pay(b.locationId, 'shared.person@example.com', 20);
    await settle();
    await eventually(
      () =>
        receipts(s.realmId).some((r) => String(r.PrivateNote).includes(String(inA.transactionId))) ? true : undefined,
      30_000,
      'A receipt',
    );
    await eventually(
      () =>
        receipts(b.realmId).some((r) => String(r.PrivateNote).includes(String(inB.transactionId))) ? true : undefined,
      30_000,
      'B receipt',
    );
    assert.ok(
      !receipts(s.realmId).some((r) => String(r.PrivateNote).includes(String(inB.transactionId))),
      "B's payment is not in A's company",
    );
    assert.ok(
      !receipts(b.realmId).some((r) => String(r.PrivateNote).includes(String(inA.transactionId))),
      "A's payment is not in B's company",
    );
    assert.deepEqual(
      receipts(s.realmId).map((r) => r.TotalAmt),
      [10],
    );
    assert.deepEqual(
      receipts(b.realmId).map((r) => r.TotalAmt),
      [20],
    );
  });

  it("a signed webhook for location A that names B's contact and B's order reads nothing of B and writes nothing", async () => {
    const inB = await pay(b.locationId, 'only.in.b@example.com', 30);
    await settle();
    const customerB = await eventually(
      () =>
        customers(b.realmId).find((c) => (c.PrimaryEmailAddr as Rec | undefined)?.Address === 'only.in.b@example.com'),
      30_000,
      "B's customer",
    );
    const beforeA = { customers: customers(s.realmId).length, receipts: receipts(s.realmId).length };
    // HighLevel signs for the app, not per location: the body's locationId is what routes it. Name B's records under A.
    assert.equal(
      (
        await signedHighLevel({
          type: 'ContactUpdate',
          locationId: s.locationId,
          id: String(inB.contactId),
          email: 'only.in.b@example.com',
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await signedHighLevel({
          type: 'OrderStatusUpdate',
          locationId: s.locationId,
          _id: String(inB.orderId),
          status: 'completed',
        })
      ).status,
      200,
    );
    await settle();
    assert.equal(customers(s.realmId).length, beforeA.customers, "no customer for B's contact in A's company");
    assert.equal(receipts(s.realmId).length, beforeA.receipts, "no receipt for B's order in A's company");
    const after = customers(b.realmId).find((c) => c.Id === customerB.Id)!;
    assert.equal(after.SyncToken, customerB.SyncToken, "B's customer was not touched");
    assert.equal(
      receipts(b.realmId).filter((r) => String(r.PrivateNote).includes(String(inB.transactionId))).length,
      1,
    );
    // A's activity never names B's records as synced.
    const activityA = await listActivity(s.t.db, { connectionId: s.connection.id, limit: 500 });
    assert.ok(
      !activityA.some((a) => a.status === 'ok' && (a.crmId === inB.contactId || a.crmId === inB.transactionId)),
      JSON.stringify(activityA.filter((a) => a.crmId === inB.contactId).map((a) => a.message)),
    );
  });

  it("the dashboard API under one connection's URL neither reads nor retries another connection's entries", async () => {
    const activityB = await listActivity(s.t.db, { connectionId: b.connection.id, limit: 5 });
    assert.ok(activityB.length > 0);
    const entry = activityB[0]!;
    const read = await api('GET', `/api/connections/${s.connection.id}/activity/${entry.id}`);
    assert.equal(read.status, 404, read.text);
    const retry = await api('POST', `/api/connections/${s.connection.id}/activity/${entry.id}/retry`);
    assert.equal(retry.status, 404, retry.text);
    const own = await api('GET', `/api/connections/${b.connection.id}/activity/${entry.id}`);
    assert.equal(own.status, 200, 'the same entry is readable under its own connection');
    const listA = await api('GET', `/api/connections/${s.connection.id}/activity`);
    assert.equal(listA.status, 200);
    assert.ok(
      !listA.text.includes('only.in.b@example.com') && !listA.text.includes(b.realmId),
      "A's activity list shows nothing of B",
    );
    const unauthenticated = await fetch(`${dashboardUrl}/api/connections/${b.connection.id}/activity`);
    assert.equal(unauthenticated.status, 401, 'no session, no data');
  });

  // Places that appeared with the dashboard (sessions, the admin account) join secrets.test.ts's scan: neither the
  // password nor the session cookie's value may be readable in the store.
  it('keeps the admin password and the session cookie out of the database', async () => {
    const sessionValue = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
    assert.ok(sessionValue.length >= 16, 'a real session token');
    const tables = await s.t.db.query<{ table_schema: string; table_name: string }>(
      `SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('public', 'pgboss') AND table_type = 'BASE TABLE'`,
    );
    let dump = '';
    for (const t of tables.rows) {
      const rows = await s.t.db.query<{ row: string }>(
        `SELECT row_to_json(x)::text AS row FROM ${t.table_schema}."${t.table_name}" x`,
      );
      dump += rows.rows.map((r) => r.row).join('\n');
    }
    assert.ok(dump.includes('admin'), 'the admin account is in the dump');
    assert.ok(!dump.includes(PASSWORD), 'the admin password is not readable');
    assert.ok(!dump.includes(sessionValue), 'the session cookie value is not readable (only its hash)');
  });
});
