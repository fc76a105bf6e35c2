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
    assert.deepEqual(
      recorded.rows.map((r) => r.version),
      all,
    );
  });

  it('creates the core tables with their uniqueness rules', async () => {
    await t.db.query(`INSERT INTO connections (id, name) VALUES ('c1', 'first')`);
    await t.db.query(
      `INSERT INTO inbox (provider, event_id, event_type, payload) VALUES ('highlevel', 'e1', 'OrderCreate', '{}')`,
    );
    await assert.rejects(
      t.db.query(
        `INSERT INTO inbox (provider, event_id, event_type, payload) VALUES ('highlevel', 'e1', 'OrderCreate', '{}')`,
      ),
      /duplicate key/,
    );
    await t.db.query(
      `INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin) VALUES ('c1', 'customer', 'a', '1', 'crm')`,
    );
    await assert.rejects(
      t.db.query(
        `INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin) VALUES ('c1', 'customer', 'b', '1', 'crm')`,
      ),
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
      await migrate(
        fresh.db,
        listMigrations().filter((m) => m.version < 7),
      );
      await fresh.db.query(`INSERT INTO connections (id, name) VALUES ('c1', 'first')`);
      for (const at of ['2026-12-01T10:00:00Z', '2026-12-01T10:01:00Z', '2026-12-01T10:02:00Z']) {
        await fresh.db.query(
          `INSERT INTO activity (connection_id, flow, status, crm_id, message, detail, created_at) VALUES ('c1', 'salesReceipts', 'error', 't1', 'in EUR', '{"code":"currency-not-accepted"}', $1)`,
          [at],
        );
      }
      await fresh.db.query(
        `INSERT INTO activity (connection_id, flow, status, crm_id, message) VALUES ('c1', 'salesReceipts', 'error', 't1', 'another cause')`,
      );
      await migrate(fresh.db);
      const rows = await fresh.db.query<{ cause: string; occurrences: number; last_seen_at: Date | string | null }>(
        `SELECT cause, occurrences, last_seen_at FROM activity WHERE crm_id = 't1' ORDER BY id`,
      );
      assert.deepEqual(
        rows.rows.map((r) => [r.cause, r.occurrences]),
        [
          ['currency-not-accepted', 3],
          ['another cause', 1],
        ],
      );
      assert.equal(new Date(rows.rows[0]!.last_seen_at!).toISOString(), '2026-12-01T10:02:00.000Z');
    } finally {
      await fresh.close();
    }
  });

  it('leaves one live connection per company and per location when applying 011, disconnecting the others without their tokens', async () => {
    const fresh = await openTestDb({ migrate: false });
    try {
      await migrate(
        fresh.db,
        listMigrations().filter((m) => m.version < 11),
      );
      const insert = (
        id: string,
        status: string,
        realm: string | null,
        location: string | null,
        connectedAt: string | null,
      ) =>
        fresh.db.query(
          `INSERT INTO connections (id, name, status, qbo_realm_id, hl_location_id, qbo_tokens, hl_tokens, connected_at) VALUES ($1, $1, $2, $3, $4, '\\x01', '\\x02', $5)`,
          [id, status, realm, location, connectedAt],
        );
      await insert('us-first', 'connected', 'realm-us', 'loc-us', '2026-01-01T00:00:00Z');
      await insert('ca-on-us-company', 'revoked', 'realm-us', 'loc-ca', '2025-06-01T00:00:00Z');
      await insert('second-on-us-location', 'connected', 'realm-other', 'loc-us', '2026-02-01T00:00:00Z');
      await insert('old-disconnected', 'disconnected', 'realm-us', 'loc-old', '2024-01-01T00:00:00Z');
      await insert('alone', 'connected', 'realm-alone', 'loc-alone', '2026-03-01T00:00:00Z');
      await migrate(fresh.db);
      const rows = await fresh.db.query<{
        id: string;
        status: string;
        status_reason: string | null;
        qbo_tokens: unknown;
        hl_tokens: unknown;
      }>(`SELECT id, status, status_reason, qbo_tokens, hl_tokens FROM connections ORDER BY id`);
      const byId = Object.fromEntries(rows.rows.map((r) => [r.id, r]));
      // A connected one keeps the company before a revoked one, even one connected earlier.
      assert.equal(byId['us-first']!.status, 'connected');
      assert.notEqual(byId['us-first']!.qbo_tokens, null);
      assert.equal(byId['ca-on-us-company']!.status, 'disconnected');
      assert.match(byId['ca-on-us-company']!.status_reason!, /same QuickBooks company/);
      assert.equal(byId['ca-on-us-company']!.qbo_tokens, null, 'its tokens are forgotten, not revoked');
      assert.equal(byId['second-on-us-location']!.status, 'disconnected');
      assert.match(byId['second-on-us-location']!.status_reason!, /same HighLevel location/);
      assert.equal(byId['old-disconnected']!.status_reason, null, 'a disconnected connection is left as it was');
      assert.equal(byId.alone!.status, 'connected');
      const notes = await fresh.db.query<{ connection_id: string }>(
        `SELECT connection_id FROM activity ORDER BY connection_id`,
      );
      assert.deepEqual(
        notes.rows.map((r) => r.connection_id),
        ['ca-on-us-company', 'second-on-us-location'],
      );
      await assert.rejects(
        fresh.db.query(`UPDATE connections SET status = 'connected' WHERE id = 'ca-on-us-company'`),
        /duplicate key|unique/i,
      );
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
