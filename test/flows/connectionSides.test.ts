// A connection is live only when both sides hold working tokens. A side that lost them (Disconnect, an uninstall,
// a refused refresh token) is named on the card with its own reconnect; the jobs that meet it wait, one open entry
// each, and run once that side is reconnected. Driven through the dashboard API and both emulators' OAuth pages.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { emulatorAdmin } from '../support/emulatorAdmin.ts';

const PASSWORD = 'correct horse battery staple';

interface Card {
  status: string;
  statusReason: string | null;
  needsReconnect?: string[];
}
interface Notice {
  notice: string;
  kind: string;
  route: string;
}

describe('a connection with one side to reconnect', () => {
  let s: Stack;
  let cookie: string;

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${s.url}${path}`, {
      method,
      redirect: 'manual',
      headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      json: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
      headers: response.headers,
    };
  };
  const card = async () => (await call('GET', `/api/connections/${s.connection.id}`)).json as unknown as Card;

  /** Follows a provider's redirect back to ledgerlink's callback (the stack's public URL is not where it listens). */
  const callback = async (location: string): Promise<Notice> => {
    const target = new URL(location);
    const response = await fetch(`${s.url}${target.pathname}${target.search}`, {
      redirect: 'manual',
      headers: { cookie },
    });
    assert.equal(response.status, 303, await response.text());
    const back = new URL(response.headers.get('location')!, s.url);
    // The address names a notice code only; its kind is the page's, and the particulars are read from the server once.
    const code = back.searchParams.get('notice') ?? '';
    const kind = /-(failed|denied|unrevoked)$|^login-first$/.test(code)
      ? 'error'
      : code.endsWith('-waiting')
        ? 'warning'
        : 'ok';
    const particulars = await call('GET', `/api/connect-notice?code=${encodeURIComponent(code)}`);
    return { notice: `${code}: ${String(particulars.json.text ?? '')}`, kind, route: back.hash };
  };

  /** Connect QuickBooks from the card, then allow on Intuit's consent page (the QuickBooks emulator's form). */
  const reconnectQuickBooks = async (): Promise<Notice> => {
    const started = await call('POST', `/api/connections/${s.connection.id}/connect-quickbooks`, {});
    assert.equal(started.status, 200, JSON.stringify(started.json));
    const authorize = new URL(String(started.json.authorizeUrl));
    const form = new URLSearchParams({
      ...Object.fromEntries(authorize.searchParams),
      realmId: s.realmId,
      decision: 'allow',
    });
    const consent = await fetch(`${s.qbo.url}/connect/oauth2`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    assert.equal(consent.status, 302, await consent.text());
    return callback(consent.headers.get('location')!);
  };

  /** Reconnect HighLevel from the card, then choose the location on HighLevel's choose-location page. */
  const reconnectHighLevel = async (locationId = s.locationId): Promise<Notice> => {
    const started = await call('POST', `/api/connections/${s.connection.id}/reconnect-highlevel`);
    assert.equal(started.status, 200, JSON.stringify(started.json));
    const authorize = new URL(String(started.json.authorizeUrl));
    const approve = new URL(`${s.hl.url}/oauth/chooselocation/approve`);
    for (const name of ['client_id', 'redirect_uri', 'scope', 'state'])
      approve.searchParams.set(name, authorize.searchParams.get(name) ?? '');
    approve.searchParams.set('locationId', locationId);
    const chosen = await fetch(approve, { redirect: 'manual' });
    assert.equal(chosen.status, 302, await chosen.text());
    return callback(chosen.headers.get('location')!);
  };

  /** A CRM payment, and its job already on the queue (as a poll that ran a moment before would have left it). */
  const paymentWithJob = async (email: string, amount: number): Promise<string> => {
    const response = await fetch(`${s.hl.url}/_emulator/locations/${s.locationId}/actions/order-form-payment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        contact: { firstName: 'Side', lastName: 'Waiting', email },
        items: [{ name: 'Consulting hour', amount }],
      }),
    });
    assert.equal(response.status, 200);
    const { transactionId } = (await response.json()) as { transactionId: string };
    await s.hl.flushWebhooks();
    await s.engine.queue.enqueue(QUEUES.crmTransaction, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:txn:${transactionId}`,
      transactionId,
    });
    return transactionId;
  };

  const entriesOf = async (crmId: string) =>
    (
      await s.t.db.query<{ status: string; message: string; resolved_at: Date | null; occurrences: number }>(
        `SELECT status, message, resolved_at, occurrences FROM activity WHERE connection_id = $1 AND crm_id = $2 ORDER BY id`,
        [s.connection.id, crmId],
      )
    ).rows;
  const entriesSince = async (id: number) =>
    Number(
      (
        await s.t.db.query<{ n: string | number }>(
          `SELECT count(*) AS n FROM activity WHERE connection_id = $1 AND id > $2`,
          [s.connection.id, id],
        )
      ).rows[0]!.n,
    );
  const lastEntryId = async () =>
    Number((await s.t.db.query<{ id: string | number | null }>(`SELECT max(id) AS id FROM activity`)).rows[0]!.id ?? 0);
  const receiptsOf = (transactionId: string) =>
    s.qbo.admin
      .listEntities(s.realmId, 'SalesReceipt')
      .filter((r) => String(r.PrivateNote ?? '').includes(transactionId));

  /** The payment's job waits for 5 seconds: one open entry that names HighLevel, nothing spinning. */
  const assertWaitsForHighLevel = async (transactionId: string, mark: number) => {
    await eventually(
      async () => ((await entriesOf(transactionId)).length > 0 ? true : undefined),
      20_000,
      "the payment's job to stop",
    );
    await new Promise((r) => setTimeout(r, 5000));
    const entries = await entriesOf(transactionId);
    assert.equal(
      entries.length,
      1,
      `one entry for the waiting payment, not ${entries.length}: ${JSON.stringify(entries.slice(0, 3))}`,
    );
    assert.equal(entries[0]!.status, 'error');
    assert.equal(entries[0]!.resolved_at, null, 'the entry stays open while the payment waits');
    assert.match(entries[0]!.message, /HighLevel/);
    assert.ok(entries[0]!.occurrences <= 2, `met ${entries[0]!.occurrences} times: the job is not retried in a loop`);
    const written = await entriesSince(mark);
    assert.ok(written < 10, `${written} activity entries in 5 seconds`);
    assert.equal(receiptsOf(transactionId).length, 0);
  };

  /** After the reconnect: the payment reaches QuickBooks once, and its entry is resolved. */
  const assertSyncedOnce = async (transactionId: string) => {
    await eventually(
      () => (receiptsOf(transactionId).length > 0 ? true : undefined),
      60_000,
      'the receipt after reconnecting HighLevel',
    );
    await s.engine.queue.idle([QUEUES.crmTransaction, QUEUES.crmOrder, QUEUES.pollPayments], 60_000);
    assert.equal(receiptsOf(transactionId).length, 1);
    const open = (await entriesOf(transactionId)).filter((e) => e.status === 'error' && e.resolved_at === null);
    assert.deepEqual(open, []);
  };

  before(async () => {
    s = await startStack();
    await createAdmin(s.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
    const login = await fetch(`${s.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    await s.engine.queue.idle(
      [QUEUES.importCustomers, QUEUES.pollQboChanges, QUEUES.pollPayments, QUEUES.sweepInvoices],
      60_000,
    );
  });
  after(async () => {
    await s.close();
  });

  it('after Disconnect, reconnecting QuickBooks alone leaves it waiting for HighLevel; payments wait with one open entry each and sync once HighLevel is reconnected', async () => {
    assert.equal((await call('POST', `/api/connections/${s.connection.id}/disconnect`)).status, 200);
    // A job queued while the connection is disconnected waits for the reconnect too.
    const queuedWhileDisconnected = await paymentWithJob('while.disconnected@example.com', 39);
    await eventually(
      async () => ((await entriesOf(queuedWhileDisconnected)).length > 0 ? true : undefined),
      20_000,
      'the job queued while disconnected to stop',
    );
    const back = await reconnectQuickBooks();
    const mark = await lastEntryId();
    const transactionId = await paymentWithJob('after.disconnect@example.com', 40);
    await assertWaitsForHighLevel(transactionId, mark);
    const earlier = await entriesOf(queuedWhileDisconnected);
    assert.equal(earlier.length, 1, JSON.stringify(earlier));
    assert.equal(
      earlier[0]!.resolved_at,
      null,
      'reconnecting QuickBooks alone does not run it (it would only stop again)',
    );

    // The card says what is missing, and the notice said the same instead of "connected".
    assert.notEqual(back.kind, 'ok', back.notice);
    assert.match(back.notice, /HighLevel/);
    const waiting = await card();
    assert.notEqual(waiting.status, 'connected');
    assert.deepEqual(waiting.needsReconnect, ['highlevel']);
    assert.match(waiting.statusReason ?? '', /HighLevel/);
    const listed = ((await call('GET', '/api/connections')).json.connections as Array<Card & { id: string }>).find(
      (c) => c.id === s.connection.id,
    )!;
    assert.notEqual(listed.status, 'connected');

    const reconnected = await reconnectHighLevel();
    assert.equal(reconnected.kind, 'ok', reconnected.notice);
    assert.match(reconnected.notice, /connected/);
    const live = await card();
    assert.equal(live.status, 'connected');
    assert.deepEqual(live.needsReconnect, []);
    await assertSyncedOnce(transactionId);
    await assertSyncedOnce(queuedWhileDisconnected);
  });

  it('a connection marked connected whose HighLevel tokens are gone stops once and waits for HighLevel', async () => {
    // What a store written before this rule holds after the sequence above: "connected", with no HighLevel tokens.
    await s.t.db.query(
      `UPDATE connections SET hl_tokens = NULL, status = 'connected', status_reason = NULL WHERE id = $1`,
      [s.connection.id],
    );
    s.engine.forget(s.connection.id);
    const mark = await lastEntryId();
    const transactionId = await paymentWithJob('tokens.gone@example.com', 41);
    await assertWaitsForHighLevel(transactionId, mark);
    const waiting = await card();
    assert.equal(waiting.status, 'revoked');
    assert.deepEqual(waiting.needsReconnect, ['highlevel']);

    assert.equal((await reconnectHighLevel()).kind, 'ok');
    assert.equal((await card()).status, 'connected');
    await assertSyncedOnce(transactionId);
  });

  it('after an uninstall the card offers Reconnect HighLevel; reconnecting QuickBooks does not claim it is connected, nor lose the waiting payment', async () => {
    await emulatorAdmin(s.hl.url, 'POST', `/locations/${s.locationId}/uninstall`);
    await s.hl.flushWebhooks();
    await eventually(
      async () => ((await card()).status === 'revoked' ? true : undefined),
      20_000,
      'the uninstall to revoke the connection',
    );
    assert.deepEqual((await card()).needsReconnect, ['highlevel']);
    const mark = await lastEntryId();
    const transactionId = await paymentWithJob('after.uninstall@example.com', 42);
    await assertWaitsForHighLevel(transactionId, mark);

    // QuickBooks is reconnected while HighLevel is still missing: the notice says so, the payment keeps waiting.
    const back = await reconnectQuickBooks();
    assert.notEqual(back.kind, 'ok', back.notice);
    assert.match(back.notice, /HighLevel/);
    const still = await card();
    assert.equal(still.status, 'revoked');
    assert.deepEqual(still.needsReconnect, ['highlevel']);
    await new Promise((r) => setTimeout(r, 1000));
    const entries = await entriesOf(transactionId);
    assert.equal(entries.length, 1, JSON.stringify(entries));
    assert.equal(entries[0]!.resolved_at, null);

    // Choosing another location on HighLevel's page does not attach it to this connection.
    const other = s.hl.createLocation({ country: 'US', name: 'Somebody else' });
    const wrong = await reconnectHighLevel(other.id);
    assert.equal(wrong.kind, 'error', wrong.notice);
    assert.equal((await card()).status, 'revoked');

    const reconnected = await reconnectHighLevel();
    assert.equal(reconnected.kind, 'ok', reconnected.notice);
    assert.equal((await card()).status, 'connected');
    await assertSyncedOnce(transactionId);
  });
});
