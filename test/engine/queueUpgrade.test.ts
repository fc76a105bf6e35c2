import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openTestDb } from '../support/db.ts';
import { migrate, listMigrations } from '../../src/store/migrate.ts';
import { JobQueue, type JobData } from '../../src/sync/engine/queue.ts';

const PG_BOSS_10_SCHEMA = readFileSync(new URL('../fixtures/pg-boss-10-schema.sql', import.meta.url), 'utf8');

describe('a store that ran the job queue on pg-boss 10', () => {
  it('keeps its waiting jobs: copied aside by migration 016 and sent again through pg-boss 12, once', async () => {
    const t = await openTestDb({ migrate: false });
    let queue: JobQueue | undefined;
    try {
      await migrate(
        t.db,
        listMigrations().filter((m) => m.version < 16),
      );
      // The store as ledgerlink on pg-boss 10 left it: a waiting job, one due in an hour, one running, one done.
      await t.db.exec(PG_BOSS_10_SCHEMA);
      await t.db.query(`SELECT pgboss.create_queue('crm-transaction', '{"policy":"short","retryLimit":6}'::json)`);
      const job = (key: string, state: string, priority: number, startAfter: string) =>
        t.db.query(
          `INSERT INTO pgboss.job (name, data, priority, state, singleton_key, start_after) VALUES ('crm-transaction', $1, $2, $3::pgboss.job_state, $4, ${startAfter})`,
          [JSON.stringify({ connectionId: 'c1', key, transactionId: key }), priority, state, key],
        );
      await job('c1:txn:waiting', 'created', -2, 'now()');
      await job('c1:txn:later', 'retry', 0, `now() + interval '1 hour'`);
      await job('c1:txn:running', 'active', 0, 'now()');
      await job('c1:txn:done', 'completed', 0, 'now()');

      await migrate(t.db);
      const schemas = await t.db.query<{ nspname: string }>(
        `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgboss%' ORDER BY nspname`,
      );
      assert.deepEqual(
        schemas.rows.map((r) => r.nspname),
        ['pgboss_10'],
        "pg-boss 10's schema is kept aside, renamed",
      );

      queue = await JobQueue.start(t.db);
      await queue.define({ name: 'crm-transaction', handler: async () => {} });
      const carried = await queue.pgBoss.findJobs<JobData>('crm-transaction');
      const byKey = new Map(carried.map((j) => [j.singletonKey, j]));
      assert.deepEqual(
        [...byKey.keys()].sort(),
        ['c1:txn:later', 'c1:txn:running', 'c1:txn:waiting'],
        'every job still to run, none that was done',
      );
      assert.equal(byKey.get('c1:txn:waiting')!.priority, -2);
      assert.equal(byKey.get('c1:txn:waiting')!.data.transactionId, 'c1:txn:waiting');
      assert.ok(
        new Date(byKey.get('c1:txn:later')!.startAfter).getTime() > Date.now() + 50 * 60_000,
        'a job due later is still due later',
      );
      assert.ok(carried.every((j) => j.state === 'created' && j.retryLimit === 6));

      // Every later start finds nothing more to carry over.
      await queue.stop();
      queue = await JobQueue.start(t.db);
      await queue.define({ name: 'crm-transaction', handler: async () => {} });
      assert.equal((await queue.pgBoss.findJobs('crm-transaction')).length, 3);
      assert.equal((await t.db.query(`SELECT 1 FROM queue_carryover`)).rows.length, 0);
    } finally {
      await queue?.stop();
      await t.close();
    }
  });

  it('changes nothing on a store that never had pg-boss 10', async () => {
    const t = await openTestDb();
    try {
      assert.equal((await t.db.query(`SELECT 1 FROM pg_namespace WHERE nspname LIKE 'pgboss%'`)).rows.length, 0);
      assert.equal((await t.db.query(`SELECT 1 FROM queue_carryover`)).rows.length, 0);
    } finally {
      await t.close();
    }
  });
});
