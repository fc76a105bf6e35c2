import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb, type TestDb } from '../support/db.ts';
import { migrate, listMigrations, splitStatements } from '../../src/store/migrate.ts';

describe('store migrations', () => {
  let t: TestDb;
  before(async () => {
    t = await openTestDb({ migrate: false });
  });
  after(async () => {
    await t.close();
  });

  it('applies every migration once, in order, and records it', async () => {
    const all = listMigrations().map((m) => m.version);
    assert.ok(all.length >= 1);
    assert.deepEqual(await migrate(t.db), all);
    assert.deepEqual(await migrate(t.db), [], 'a second run applies nothing');
    const recorded = await t.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(recorded.rows.map((r) => r.version), all);
  });

  it('creates the core tables with their uniqueness rules', async () => {
    await t.db.query(`INSERT INTO connections (id, name) VALUES ('c1', 'first')`);
    await t.db.query(`INSERT INTO inbox (provider, event_id, event_type, payload) VALUES ('highlevel', 'e1', 'OrderCreate', '{}')`);
    await assert.rejects(
      t.db.query(`INSERT INTO inbox (provider, event_id, event_type, payload) VALUES ('highlevel', 'e1', 'OrderCreate', '{}')`),
      /duplicate key/,
    );
    await t.db.query(`INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin) VALUES ('c1', 'customer', 'a', '1', 'crm')`);
    await assert.rejects(
      t.db.query(`INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin) VALUES ('c1', 'customer', 'b', '1', 'crm')`),
      /duplicate key/,
    );
  });

  it('rolls a failed transaction back whole', async () => {
    await assert.rejects(
      t.db.transaction(async (tx) => {
        await tx.query(`INSERT INTO connections (id, name) VALUES ('c2', 'second')`);
        throw new Error('boom');
      }),
      /boom/,
    );
    const rows = await t.db.query(`SELECT id FROM connections WHERE id = 'c2'`);
    assert.equal(rows.rows.length, 0);
  });

  it('folds open errors repeated before migration 007 into one per record and cause, counted', async () => {
    const fresh = await openTestDb({ migrate: false });
    try {
      await migrate(fresh.db, listMigrations().filter((m) => m.version < 7));
      await fresh.db.query(`INSERT INTO connections (id, name) VALUES ('c1', 'first')`);
      for (const at of ['2026-12-01T10:00:00Z', '2026-12-01T10:01:00Z', '2026-12-01T10:02:00Z']) {
        await fresh.db.query(
          `INSERT INTO activity (connection_id, flow, status, crm_id, message, detail, created_at) VALUES ('c1', 'salesReceipts', 'error', 't1', 'in EUR', '{"code":"currency-not-accepted"}', $1)`,
          [at],
        );
      }
      await fresh.db.query(`INSERT INTO activity (connection_id, flow, status, crm_id, message) VALUES ('c1', 'salesReceipts', 'error', 't1', 'another cause')`);
      await migrate(fresh.db);
      const rows = await fresh.db.query<{ cause: string; occurrences: number; last_seen_at: Date | string | null }>(
        `SELECT cause, occurrences, last_seen_at FROM activity WHERE crm_id = 't1' ORDER BY id`,
      );
      assert.deepEqual(rows.rows.map((r) => [r.cause, r.occurrences]), [['currency-not-accepted', 3], ['another cause', 1]]);
      assert.equal(new Date(rows.rows[0]!.last_seen_at!).toISOString(), '2026-12-01T10:02:00.000Z');
    } finally {
      await fresh.close();
    }
  });

  it('splits statements but keeps dollar-quoted bodies whole', () => {
    const parts = splitStatements(`-- c\nCREATE TABLE a (x int);\nDO $$\nBEGIN\n  PERFORM 1;\nEND\n$$;\nSELECT 1;`);
    assert.equal(parts.length, 3);
    assert.match(parts[1]!, /PERFORM 1;\nEND/);
  });
});
