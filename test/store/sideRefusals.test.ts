// Each side of a connection needs its own reconnect when its tokens are missing or refused, and the connection is
// live only when neither side does: the store's rules (activate, markRevoked, uninstall) and migration 010.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openTestDb, type TestDb } from '../support/db.ts';
import { migrate, listMigrations } from '../../src/store/migrate.ts';
import { SecretBox } from '../../src/store/secrets.ts';
import { ConnectionRepository, sidesToReconnect } from '../../src/store/connections.ts';

const tokens = (name: string) => ({
  accessToken: `${name}-access`,
  refreshToken: `${name}-refresh`,
  accessExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
});

describe('the sides of a connection', () => {
  let t: TestDb;
  let connections: ConnectionRepository;

  before(async () => {
    t = await openTestDb();
    connections = new ConnectionRepository(t.db, SecretBox.fromKey(randomBytes(32)));
  });
  after(async () => {
    await t.close();
  });

  const whole = async (name: string) => {
    const c = await connections.create({ name });
    await connections.attachHighLevel(c.id, { locationId: `loc-${name}`, country: 'US', tokens: tokens('hl') });
    await connections.attachQuickBooks(c.id, {
      realmId: `realm-${name}`,
      country: 'US',
      homeCurrency: 'USD',
      tokens: tokens('qbo'),
    });
    return connections.activate(c.id);
  };

  it('goes live only when both sides hold tokens, and names the side that does not', async () => {
    const c = await whole('both');
    assert.equal(c.status, 'connected');
    assert.deepEqual(sidesToReconnect(c), []);

    await connections.clearTokens(c.id);
    await connections.attachQuickBooks(c.id, {
      realmId: 'realm-both',
      country: 'US',
      homeCurrency: 'USD',
      tokens: tokens('qbo2'),
    });
    const waiting = await connections.activate(c.id);
    assert.equal(waiting.status, 'revoked');
    assert.deepEqual(sidesToReconnect(waiting), ['hl']);
    assert.match(waiting.statusReason ?? '', /^Needs HighLevel reconnect: no HighLevel tokens are stored/);

    await connections.attachHighLevel(c.id, { locationId: 'loc-both', country: 'US', tokens: tokens('hl2') });
    assert.equal((await connections.activate(c.id)).status, 'connected');
  });

  it('marks the side whose tokens are missing or refused, unless a reconnect replaced them meanwhile', async () => {
    const c = await whole('refused');
    assert.equal(
      await connections.markRevoked(c.id, 'hl', tokens('other'), 'Needs HighLevel reconnect: refused'),
      false,
      'not the stored tokens',
    );
    assert.equal(
      await connections.markRevoked(c.id, 'hl', undefined, 'Needs HighLevel reconnect: none'),
      false,
      'tokens are stored',
    );
    assert.equal((await connections.get(c.id))?.status, 'connected');

    assert.equal(await connections.markRevoked(c.id, 'hl', tokens('hl'), 'Needs HighLevel reconnect: refused'), true);
    const revoked = (await connections.get(c.id))!;
    assert.equal(revoked.status, 'revoked');
    assert.deepEqual(sidesToReconnect(revoked), ['hl']);
    // Reconnecting QuickBooks does not make it live while HighLevel's tokens stay refused.
    await connections.attachQuickBooks(c.id, {
      realmId: 'realm-refused',
      country: 'US',
      homeCurrency: 'USD',
      tokens: tokens('qbo2'),
    });
    assert.equal((await connections.activate(c.id)).status, 'revoked');
    await connections.attachHighLevel(c.id, { locationId: 'loc-refused', country: 'US', tokens: tokens('hl2') });
    assert.equal((await connections.activate(c.id)).status, 'connected');
  });

  it('an uninstall marks the HighLevel side, once, also on a connection already revoked for QuickBooks', async () => {
    const c = await whole('uninstalled');
    await connections.markRevoked(c.id, 'qbo', tokens('qbo'), 'Needs QuickBooks reconnect: refused');
    const later = new Date(Date.now() + 1000);
    assert.deepEqual(await connections.revokeUninstalled('loc-uninstalled', later, 'uninstalled'), [c.id]);
    assert.deepEqual(
      await connections.revokeUninstalled('loc-uninstalled', later, 'uninstalled'),
      [],
      'a second uninstall changes nothing',
    );
    assert.deepEqual(sidesToReconnect((await connections.get(c.id))!), ['qbo', 'hl']);
  });

  it("migration 010: a connection left connected without one side's tokens waits for it; a revoked one keeps the side its reason names", async () => {
    const fresh = await openTestDb({ migrate: false });
    try {
      await migrate(
        fresh.db,
        listMigrations().filter((m) => m.version < 10),
      );
      await fresh.db.query(
        `INSERT INTO connections (id, name, status, status_reason, qbo_realm_id, hl_location_id, qbo_tokens, hl_tokens) VALUES
          ('no-hl', 'a', 'connected', NULL, 'r1', 'l1', '\\x01'::bytea, NULL),
          ('whole', 'b', 'connected', NULL, 'r2', 'l2', '\\x01'::bytea, '\\x01'::bytea),
          ('hl-refused', 'c', 'revoked', 'Needs HighLevel reconnect: HighLevel refused the refresh token', 'r3', 'l3', '\\x01'::bytea, '\\x01'::bytea)`,
      );
      await migrate(fresh.db);
      const rows = await fresh.db.query<{
        id: string;
        status: string;
        status_reason: string | null;
        hl_refused_at: unknown;
        qbo_refused_at: unknown;
      }>(`SELECT id, status, status_reason, hl_refused_at, qbo_refused_at FROM connections ORDER BY id`);
      const by = Object.fromEntries(rows.rows.map((r) => [r.id, r]));
      assert.equal(by['no-hl']!.status, 'revoked');
      assert.match(by['no-hl']!.status_reason ?? '', /^Needs HighLevel reconnect/);
      assert.equal(by.whole!.status, 'connected');
      assert.notEqual(by['hl-refused']!.hl_refused_at, null);
      assert.equal(by['hl-refused']!.qbo_refused_at, null);
    } finally {
      await fresh.close();
    }
  });
});
