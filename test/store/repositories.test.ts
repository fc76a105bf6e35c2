import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openTestDb, type TestDb } from '../support/db.ts';
import { SecretBox } from '../../src/store/secrets.ts';
import { ConnectionRepository } from '../../src/store/connections.ts';
import { storeInboxEvent } from '../../src/store/inbox.ts';
import { listActivity, recordActivity, resolveErrors, saveLinkAndRecord } from '../../src/store/activity.ts';
import { findLinkByCrmId, findLinkByQboId, saveLink } from '../../src/store/links.ts';
import { claimPendingLink } from '../../src/store/linkClaims.ts';
import { readCursor, writeCursor } from '../../src/store/cursors.ts';
import { PostgresRateLimiter } from '../../src/store/rateLimits.ts';
import { ConnectionRevokedError, StoredTokenSource } from '../../src/sync/engine/tokens.ts';

describe('store repositories', () => {
  let t: TestDb;
  let connections: ConnectionRepository;
  const secrets = SecretBox.fromKey(randomBytes(32));

  before(async () => {
    t = await openTestDb();
    connections = new ConnectionRepository(t.db, secrets);
  });
  after(async () => {
    await t.close();
  });

  it('keeps OAuth tokens sealed in the database and opens them only with the key and the right row', async () => {
    const c = await connections.create({ name: 'Acme', reviewRequests: true });
    const tokens = {
      accessToken: 'access-SECRET-1',
      refreshToken: 'refresh-SECRET-1',
      accessExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
    };
    await connections.attachQuickBooks(c.id, { realmId: '9130', country: 'US', homeCurrency: 'USD', tokens });
    assert.deepEqual(await connections.readTokens(c.id, 'qbo'), tokens);
    const raw = await t.db.query<{ dump: string }>(
      `SELECT row_to_json(c)::text AS dump FROM connections c WHERE id = $1`,
      [c.id],
    );
    assert.doesNotMatch(raw.rows[0]!.dump, /SECRET/);
    const other = await connections.create({ name: 'Other' });
    await t.db.query(
      `UPDATE connections SET qbo_tokens = (SELECT qbo_tokens FROM connections WHERE id = $1) WHERE id = $2`,
      [c.id, other.id],
    );
    await assert.rejects(
      connections.readTokens(other.id, 'qbo'),
      /cannot be opened with the token key in use/,
      'a sealed token moved to another row does not open',
    );
    const wrongKey = new ConnectionRepository(t.db, SecretBox.fromKey(randomBytes(32)));
    await assert.rejects(wrongKey.readTokens(c.id, 'qbo'));
  });

  it('refreshes one at a time and hands the second caller the tokens the first one saved', async () => {
    const c = await connections.create({ name: 'Refresh' });
    await connections.attachQuickBooks(c.id, {
      realmId: 'r-refresh',
      country: 'US',
      homeCurrency: 'USD',
      tokens: { accessToken: 'a0', refreshToken: 'r0', accessExpiresAt: new Date(0).toISOString() },
    });
    let refreshes = 0;
    const refresh = async (current: { accessToken: string; accessExpiresAt: string }) => {
      if (new Date(current.accessExpiresAt).getTime() > Date.now()) return undefined;
      refreshes += 1;
      await new Promise((r) => setTimeout(r, 50));
      return {
        accessToken: `a${refreshes}`,
        refreshToken: `r${refreshes}`,
        accessExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
      };
    };
    const [x, y] = await Promise.all([
      connections.refreshUnderLock(c.id, 'qbo', refresh),
      connections.refreshUnderLock(c.id, 'qbo', refresh),
    ]);
    assert.equal(refreshes, 1);
    assert.equal(x.accessToken, 'a1');
    assert.equal(y.accessToken, 'a1');
    assert.equal((await connections.readTokens(c.id, 'qbo'))?.refreshToken, 'r1');
  });

  it('marks a connection revoked when its refresh token is refused, but not after a reconnect saved new tokens meanwhile', async () => {
    const c = await connections.create({ name: 'Reconnected' });
    const expired = {
      accessToken: 'old-access',
      refreshToken: 'old-refresh',
      accessExpiresAt: new Date(0).toISOString(),
    };
    await connections.attachQuickBooks(c.id, {
      realmId: 'r-reconnect',
      country: 'US',
      homeCurrency: 'USD',
      tokens: expired,
    });
    await connections.activate(c.id);
    const refused = Object.assign(new Error('invalid_grant'), { refusal: true });
    let refreshing: () => void = () => {};
    const refreshStarted = new Promise<void>((resolve) => {
      refreshing = resolve;
    });
    const source = (id: string) =>
      new StoredTokenSource({
        connections,
        connectionId: id,
        side: 'qbo',
        isRefusal: (e) => e === refused,
        refresh: async () => {
          refreshing();
          await new Promise((r) => setTimeout(r, 20));
          throw refused;
        },
      });
    // The user reconnects while a job's refresh of the old token is being refused (a race only PostgreSQL can show:
    // PGlite runs one statement at a time, so the reconnect waits for the refresh's transaction there). The
    // reconnect starts once the refresh has, however slow the machine.
    const job = source(c.id).accessToken();
    await refreshStarted;
    await connections.attachQuickBooks(c.id, {
      realmId: 'r-reconnect',
      country: 'US',
      homeCurrency: 'USD',
      tokens: {
        accessToken: 'new-access',
        refreshToken: 'new-refresh',
        accessExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
      },
    });
    await connections.activate(c.id);
    await assert.rejects(job, ConnectionRevokedError);
    assert.equal(
      (await connections.get(c.id))?.status,
      'connected',
      'the refusal of the old token does not revoke the new one',
    );
    // Without a reconnect, the same refusal marks the connection revoked.
    const other = await connections.create({ name: 'Not reconnected' });
    await connections.attachQuickBooks(other.id, {
      realmId: 'r-revoked',
      country: 'US',
      homeCurrency: 'USD',
      tokens: expired,
    });
    await connections.activate(other.id);
    await assert.rejects(source(other.id).accessToken(), ConnectionRevokedError);
    const revoked = await connections.get(other.id);
    assert.equal(revoked?.status, 'revoked');
    assert.match(revoked?.statusReason ?? '', /reconnect QuickBooks/);
  });

  it('stores an inbox event once however often it arrives', async () => {
    const event = {
      provider: 'highlevel' as const,
      eventId: 'wh-1',
      eventType: 'OrderCreate',
      connectionId: null,
      payload: { a: 1 },
    };
    assert.ok(await storeInboxEvent(t.db, event));
    assert.equal(await storeInboxEvent(t.db, event), undefined);
    assert.equal(await storeInboxEvent(t.db, event), undefined);
  });

  it('claims a pending link once and finds links from either side', async () => {
    const c = await connections.create({ name: 'Links' });
    assert.equal(await claimPendingLink(t.db, c.id, 'customer', 'contact-1', 'qbo'), true);
    assert.equal(await claimPendingLink(t.db, c.id, 'customer', 'contact-1', 'qbo'), false);
    await saveLink(t.db, {
      connectionId: c.id,
      kind: 'customer',
      crmId: 'contact-1',
      qboId: '58',
      origin: 'qbo',
      state: 'linked',
      snapshotHash: 'h',
      qboSyncToken: '0',
      qboUpdatedAt: null,
      crmUpdatedAt: null,
    });
    assert.equal((await findLinkByCrmId(t.db, c.id, 'customer', 'contact-1'))?.qboId, '58');
    assert.equal((await findLinkByQboId(t.db, c.id, 'customer', '58'))?.crmId, 'contact-1');
    const other = await connections.create({ name: 'Elsewhere' });
    assert.equal(await findLinkByQboId(t.db, other.id, 'customer', '58'), undefined, 'links never cross connections');
  });

  it('keeps cursors per connection', async () => {
    const c = await connections.create({ name: 'Cursors' });
    await writeCursor(t.db, c.id, 'cdc', { changedSince: '2026-11-01T00:00:00Z' });
    await writeCursor(t.db, c.id, 'cdc', { changedSince: '2026-11-02T00:00:00Z' });
    assert.deepEqual(await readCursor(t.db, c.id, 'cdc'), { changedSince: '2026-11-02T00:00:00Z' });
    assert.equal(await readCursor(t.db, c.id, 'missing'), undefined);
  });

  it('lists activity newest first, filtered, and resolves errors after a success', async () => {
    const c = await connections.create({ name: 'Activity' });
    await recordActivity(t.db, {
      connectionId: c.id,
      flow: 'salesReceipts',
      status: 'error',
      crmId: 'txn_1',
      message: 'Contact has no email',
    });
    await recordActivity(t.db, {
      connectionId: c.id,
      flow: 'customers',
      status: 'ok',
      crmId: 'ct_1',
      message: "Created customer O'Brien",
    });
    const all = await listActivity(t.db, { connectionId: c.id });
    assert.deepEqual(
      all.map((a) => a.flow),
      ['customers', 'salesReceipts'],
    );
    assert.equal((await listActivity(t.db, { connectionId: c.id, text: "o'brien" })).length, 1);
    assert.equal(
      (await listActivity(t.db, { connectionId: c.id, text: '%' })).length,
      0,
      'wildcards in the search text are literal',
    );
    assert.equal((await listActivity(t.db, { connectionId: c.id, openErrorsOnly: true })).length, 1);
    await resolveErrors(t.db, c.id, 'salesReceipts', 'txn_1');
    assert.equal((await listActivity(t.db, { connectionId: c.id, openErrorsOnly: true })).length, 0);
  });

  it('keeps one open error per record and cause: met again, it is counted and updated in place; after a Retry, a new one', async () => {
    const c = await connections.create({ name: 'Repeated errors' });
    const error = (message: string, code = 'currency-not-accepted') => ({
      connectionId: c.id,
      flow: 'salesReceipts',
      status: 'error' as const,
      crmId: 'txn_r',
      message,
      detail: { code },
    });
    const first = await recordActivity(t.db, error('Payment txn_r is in EUR (first)'));
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(await recordActivity(t.db, error('Payment txn_r is in EUR (again)')), first);
    assert.equal(await recordActivity(t.db, error('Payment txn_r is in EUR (third)')), first);
    const other = await recordActivity(t.db, error('Payment txn_r names no contact', 'payment-without-contact'));
    assert.notEqual(other, first, 'another cause is another error');
    const open = await listActivity(t.db, { connectionId: c.id, openErrorsOnly: true });
    assert.deepEqual(
      open.map((e) => [e.id, e.occurrences]),
      [
        [other, 1],
        [first, 3],
      ],
    );
    const counted = open.find((e) => e.id === first)!;
    assert.equal(counted.message, 'Payment txn_r is in EUR (third)', 'the newest text');
    assert.ok(counted.lastSeenAt.getTime() > counted.createdAt.getTime());
    await resolveErrors(t.db, c.id, 'salesReceipts', 'txn_r');
    const after = await recordActivity(t.db, error('Payment txn_r is in EUR (after Retry)'));
    assert.ok(
      after !== first && after !== other,
      'a resolved error is history; meeting the cause again opens a new one',
    );
  });

  it("saves a link and its activity in one statement, resolving the record's open errors only when asked", async () => {
    const c = await connections.create({ name: 'Link and record' });
    const link = {
      connectionId: c.id,
      kind: 'salesReceipt' as const,
      crmId: 'txn_9',
      qboId: '77',
      origin: 'crm' as const,
      state: 'linked' as const,
      snapshotHash: null,
      qboSyncToken: '0',
      qboUpdatedAt: null,
      crmUpdatedAt: null,
      data: { totalMinor: 1200 },
    };
    await recordActivity(t.db, {
      connectionId: c.id,
      flow: 'salesReceipts',
      status: 'error',
      crmId: 'txn_9',
      message: 'Currency not accepted',
    });
    await recordActivity(t.db, {
      connectionId: c.id,
      flow: 'invoices',
      status: 'error',
      crmId: 'txn_9',
      message: 'Another flow',
    });
    await saveLinkAndRecord(t.db, link, {
      connectionId: c.id,
      flow: 'salesReceipts',
      status: 'ok',
      crmId: 'txn_9',
      message: 'Created sales receipt 77',
    });
    assert.equal(
      (await listActivity(t.db, { connectionId: c.id, openErrorsOnly: true })).length,
      2,
      'no errors resolved unless asked',
    );
    await saveLinkAndRecord(
      t.db,
      { ...link, qboSyncToken: '1' },
      { connectionId: c.id, flow: 'salesReceipts', status: 'ok', crmId: 'txn_9', message: 'Created sales receipt 77' },
      { resolvesErrors: true },
    );
    const open = await listActivity(t.db, { connectionId: c.id, openErrorsOnly: true });
    assert.deepEqual(
      open.map((a) => a.flow),
      ['invoices'],
      "only the same flow's errors of the record are resolved",
    );
    const saved = await findLinkByCrmId(t.db, c.id, 'salesReceipt', 'txn_9');
    assert.equal(saved?.qboSyncToken, '1');
    assert.equal(saved?.data.totalMinor, 1200);
    // A statement that fails leaves neither the link nor the activity (one statement, atomic).
    await assert.rejects(
      saveLinkAndRecord(
        t.db,
        { ...link, crmId: 'txn_10' },
        { connectionId: c.id, flow: 'salesReceipts', status: 'bogus' as 'ok', crmId: 'txn_10', message: 'x' },
      ),
    );
    assert.equal(await findLinkByCrmId(t.db, c.id, 'salesReceipt', 'txn_10'), undefined);
  });

  it('reuses a connection read for jobs for at most a second, and never after this process changed it', async () => {
    const c = await connections.create({ name: 'Recent' });
    await connections.activate(c.id);
    assert.equal((await connections.recent(c.id))?.status, 'connected');
    await connections.setStatus(c.id, 'paused', 'Paused from the dashboard');
    assert.equal(
      (await connections.recent(c.id))?.status,
      'paused',
      'a change made through the repository is seen at once',
    );
    // A change made elsewhere (another process) is seen once the copy is a second old.
    await t.db.query(`UPDATE connections SET status = 'connected' WHERE id = $1`, [c.id]);
    assert.equal((await connections.recent(c.id))?.status, 'paused');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await connections.recent(c.id))?.status, 'connected');
  });

  it('spaces requests to stay under a rate limit and caps requests in flight', async () => {
    const limiter = new PostgresRateLimiter(t.db, () => ({
      limit: 20,
      windowMs: 1000,
      utilisation: 1,
      burst: 1,
      concurrency: 2,
    }));
    const started = Date.now();
    let inFlight = 0;
    let maxInFlight = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const release = await limiter.acquire('qbo:realm-1');
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 30));
        inFlight -= 1;
        release();
      }),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 9 * 50 - 20, `10 requests at 20/s take at least ~450 ms, took ${elapsed}`);
    assert.ok(maxInFlight <= 2, `at most 2 in flight, saw ${maxInFlight}`);
  });

  it('runs statements prepared, and a prepared text whose table a migration changed runs again unprepared', async (ctx) => {
    if (t.db.kind !== 'postgres') return ctx.skip('PGlite prepares nothing');
    await t.db.exec(
      `CREATE TABLE prepared_probe (id int PRIMARY KEY, name text); INSERT INTO prepared_probe VALUES (1, 'one')`,
    );
    const read = () => t.db.query<Record<string, unknown>>(`SELECT * FROM prepared_probe WHERE id = $1`, [1]);
    assert.deepEqual((await read()).rows, [{ id: 1, name: 'one' }]);
    const names = await t.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%FROM prepared_probe%'`,
      [],
    );
    assert.equal(Number(names.rows[0]!.n), 1, 'prepared on this connection');
    // Every connection of the pool prepares it, then a migration adds a column: "cached plan must not change result type".
    await Promise.all(Array.from({ length: 12 }, () => read()));
    await t.db.exec(`ALTER TABLE prepared_probe ADD COLUMN note text`);
    const inTransaction = await t.db
      .transaction(async (tx) => tx.query(`SELECT * FROM prepared_probe WHERE id = $1`, [1]))
      .then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    assert.ok(inTransaction === 'ok' || inTransaction === '0A000', `in a transaction: ${inTransaction}`);
    for (let i = 0; i < 12; i++) assert.deepEqual((await read()).rows, [{ id: 1, name: 'one', note: null }]);
    assert.deepEqual(
      (await t.db.transaction(async (tx) => tx.query(`SELECT * FROM prepared_probe WHERE id = $1`, [1]))).rows,
      [{ id: 1, name: 'one', note: null }],
    );
  });

  it('keeps one limit across processes while only the first waiter of each process asks the store', async () => {
    let statements = 0;
    const counted = {
      query: (sql: string, params?: readonly unknown[]) => {
        statements += 1;
        return t.db.query(sql, params);
      },
    } as typeof t.db;
    const policy = () => ({ limit: 50, windowMs: 1000, utilisation: 1, burst: 1 });
    const processes = [new PostgresRateLimiter(counted, policy), new PostgresRateLimiter(counted, policy)];
    const started = Date.now();
    const grants: number[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const release = await processes[i % 2]!.acquire('hl:shared-location');
        grants.push(Date.now() - started);
        release();
      }),
    );
    const elapsed = Date.now() - started;
    assert.ok(
      elapsed >= 39 * 20 - 30,
      `40 requests at 50/s between two processes take at least ~780 ms, took ${elapsed}`,
    );
    // Any second holds at most 50 (+1 for the first) grants, whichever process made them.
    for (const at of grants) assert.ok(grants.filter((g) => g >= at && g < at + 1000).length <= 51);
    // Waiting in line: about three statements a request (the two processes' first waiters meet at each turn: one
    // is granted, the other refused and told how long), where forty requests each polling the store by itself made
    // 1,100-1,500.
    assert.ok(statements <= 40 * 4, `statements for 40 requests: ${statements}`);
  });
});
