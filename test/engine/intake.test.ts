import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { openTestDb, type TestDb } from '../support/db.ts';
import { SecretBox } from '../../src/store/secrets.ts';
import { ConnectionRepository } from '../../src/store/connections.ts';
import { listActivity } from '../../src/store/activity.ts';
import { JobQueue } from '../../src/sync/engine/queue.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { webhookRoutes } from '../../src/server/webhooks.ts';
import { signIntuitPayload } from '../../src/quickbooks/webhooks.ts';

const VERIFIER = 'verifier-token-for-tests';

function legacyBody(realmId: string, id: string, operation = 'Update') {
  return JSON.stringify({
    eventNotifications: [
      {
        realmId,
        dataChangeEvent: { entities: [{ name: 'Customer', id, operation, lastUpdated: '2026-11-24T10:00:00.000Z' }] },
      },
    ],
  });
}

describe('webhook intake', () => {
  let t: TestDb;
  let queue: JobQueue;
  let app: FastifyInstance;
  let connections: ConnectionRepository;
  let connectionId: string;

  const inboxCount = async () =>
    Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM inbox')).rows[0]!.n);
  const jobCount = async () => (await queue.pgBoss.findJobs(QUEUES.qboCustomer)).length;
  const post = (body: string, headers: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/quickbooks',
      payload: body,
      headers: { 'content-type': 'application/json', ...headers },
    });

  before(async () => {
    t = await openTestDb();
    connections = new ConnectionRepository(t.db, SecretBox.fromKey(randomBytes(32)));
    const c = await connections.create({ name: 'Intake' });
    await connections.attachQuickBooks(c.id, {
      realmId: 'realm-1',
      country: 'US',
      homeCurrency: 'USD',
      tokens: { accessToken: 'a', refreshToken: 'r', accessExpiresAt: new Date().toISOString() },
    });
    await connections.activate(c.id);
    connectionId = c.id;
    queue = await JobQueue.start(t.db);
    await queue.define({ name: QUEUES.qboCustomer, handler: async () => {} });
    app = Fastify();
    await app.register(webhookRoutes, {
      intake: {
        db: t.db,
        queue,
        connectionsFor: (provider, account) =>
          provider === 'quickbooks' ? connections.findByRealm(account) : connections.findByLocation(account),
        handles: (name) => name === QUEUES.qboCustomer,
      },
      quickbooksVerifierToken: VERIFIER,
      verifyHighLevel: () => ({ ok: false, reason: 'not under test' }),
      parseHighLevel: () => {
        throw new Error('not under test');
      },
      highLevelAppId: 'not-under-test',
      onHighLevelAppEvent: async () => 'duplicate',
      bodyLimitBytes: 4096,
    });
  });
  after(async () => {
    await app.close();
    await queue.stop();
    await t.close();
  });

  it('refuses a forged signature with 401 and stores nothing, but shows the refusal', async () => {
    const body = legacyBody('realm-1', '1');
    const forged = await post(body, { 'intuit-signature': signIntuitPayload(body, 'not-the-verifier') });
    assert.equal(forged.statusCode, 401);
    const missing = await post(body, {});
    assert.equal(missing.statusCode, 401);
    assert.equal(await inboxCount(), 0);
    const refusals = await listActivity(t.db, { flow: 'webhooks', status: 'error' });
    assert.equal(refusals.length, 2);
    assert.match(refusals[1]!.message, /signature does not match/);
    assert.doesNotMatch(JSON.stringify(refusals), /eventNotifications/, 'the refused body is not kept');
  });

  it('stores a signed event once and enqueues one job, however often it is delivered', async () => {
    const body = legacyBody('realm-1', '42');
    for (let i = 0; i < 3; i++) {
      const response = await post(body, { 'intuit-signature': signIntuitPayload(body, VERIFIER) });
      assert.equal(response.statusCode, 200);
    }
    const rows = await t.db.query<{ connection_id: string; event_type: string }>(
      `SELECT connection_id, event_type FROM inbox WHERE status = 'accepted'`,
    );
    assert.deepEqual(rows.rows, [{ connection_id: connectionId, event_type: 'Customer.Update' }]);
    assert.equal(await jobCount(), 1);
  });

  it('makes the same job as the queue makes, in the transaction that stores the event (neither without the other)', async () => {
    const settings = (job: Record<string, unknown>) =>
      Object.fromEntries(
        [
          'name',
          'priority',
          'state',
          'singletonKey',
          'deadLetter',
          'expireInSeconds',
          'retryLimit',
          'retryDelay',
          'retryBackoff',
          'policy',
          'deleteAfterSeconds',
        ].map((k) => [k, job[k] ?? null]),
      );
    const key = `${connectionId}:customer:same-job`;
    await queue.enqueue(QUEUES.qboCustomer, { connectionId, key, customerId: 'same-job' });
    const [viaQueue] = await queue.pgBoss.findJobs<Record<string, unknown>>(QUEUES.qboCustomer, { key });
    await queue.pgBoss.deleteJob(QUEUES.qboCustomer, viaQueue!.id);
    const response = await post(legacyBody('realm-1', 'same-job', 'Create'), {
      'intuit-signature': signIntuitPayload(legacyBody('realm-1', 'same-job', 'Create'), VERIFIER),
    });
    assert.equal(response.statusCode, 200);
    const viaIntake = await queue.pgBoss.findJobs<Record<string, unknown>>(QUEUES.qboCustomer, { key });
    assert.equal(viaIntake.length, 1);
    assert.equal(typeof viaIntake[0]!.data.inboxId, 'number', 'the job names its inbox row');
    assert.deepEqual(
      settings(viaIntake[0]! as unknown as Record<string, unknown>),
      settings(viaQueue! as unknown as Record<string, unknown>),
    );
    assert.deepEqual(
      Object.keys(viaIntake[0]!.data).sort(),
      [...Object.keys(viaQueue!.data), 'operation', 'inboxId'].sort(),
    );
    // A second event for the same record while its job waits collapses into that job ('short' policy).
    const update = legacyBody('realm-1', 'same-job', 'Update');
    assert.equal((await post(update, { 'intuit-signature': signIntuitPayload(update, VERIFIER) })).statusCode, 200);
    assert.equal((await queue.pgBoss.findJobs(QUEUES.qboCustomer, { key })).length, 1);
    assert.equal(
      Number(
        (await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM inbox WHERE payload->>'entityId' = 'same-job'`))
          .rows[0]!.n,
      ),
      2,
    );
    // A job that cannot be made takes its event with it: the sender gets an error and delivers again later.
    const enqueue = queue.enqueue.bind(queue);
    queue.enqueue = async () => {
      throw new Error('the store refused the job');
    };
    try {
      const refused = legacyBody('realm-1', 'no-job', 'Create');
      assert.equal((await post(refused, { 'intuit-signature': signIntuitPayload(refused, VERIFIER) })).statusCode, 500);
    } finally {
      queue.enqueue = enqueue;
    }
    assert.equal(
      Number(
        (await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM inbox WHERE payload->>'entityId' = 'no-job'`))
          .rows[0]!.n,
      ),
      0,
      'no event without its job',
    );
    await queue.pgBoss.deleteJob(
      QUEUES.qboCustomer,
      viaIntake.map((j) => j.id),
    ); // the tests below count jobs and events
    await t.db.query(`DELETE FROM inbox WHERE payload->>'entityId' = 'same-job'`);
  });

  it('records and ignores events for an unknown company or an entity no flow handles', async () => {
    const unknown = legacyBody('realm-unknown', '7');
    assert.equal((await post(unknown, { 'intuit-signature': signIntuitPayload(unknown, VERIFIER) })).statusCode, 200);
    const vendor = JSON.stringify({
      eventNotifications: [
        {
          realmId: 'realm-1',
          dataChangeEvent: {
            entities: [{ name: 'Vendor', id: '9', operation: 'Create', lastUpdated: '2026-11-24T10:00:00Z' }],
          },
        },
      ],
    });
    assert.equal((await post(vendor, { 'intuit-signature': signIntuitPayload(vendor, VERIFIER) })).statusCode, 200);
    const ignored = await t.db.query<{ reason: string }>(
      `SELECT reason FROM inbox WHERE status = 'ignored' ORDER BY id`,
    );
    assert.match(ignored.rows[0]!.reason, /no connection for QuickBooks company realm-unknown/);
    assert.match(ignored.rows[1]!.reason, /not an event ledgerlink syncs/);
    assert.equal(await jobCount(), 1);
  });

  it('answers 200 to a signed but malformed body and explains it (Intuit would hold later events behind a failure)', async () => {
    const body = '{"eventNotifications": "nope"}';
    const response = await post(body, { 'intuit-signature': signIntuitPayload(body, VERIFIER) });
    assert.equal(response.statusCode, 200);
    const [latest] = await listActivity(t.db, { flow: 'webhooks' });
    assert.match(latest!.message, /Refused a QuickBooks webhook/);
  });

  it('refuses a body over the size limit with 413', async () => {
    const body = legacyBody('realm-1', 'x'.repeat(5000));
    const response = await post(body, { 'intuit-signature': signIntuitPayload(body, VERIFIER) });
    assert.equal(response.statusCode, 413);
    const [latest] = await listActivity(t.db, { flow: 'webhooks' });
    assert.match(latest!.message, /over the 4096-byte limit/);
  });
});
