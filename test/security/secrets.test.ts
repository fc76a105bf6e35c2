// No OAuth token or secret is readable in the database or in the logs: after a connection has synced, refreshed
// its tokens and failed a few requests (failures are what get logged), the whole store and every log line are
// scanned for each token and secret in play.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { startStack, eventually, type Stack, QBO_VERIFIER } from '../support/stack.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';

describe('secrets at rest and in logs', () => {
  let s: Stack;
  let logs = '';

  before(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => (logs += chunk.toString('utf8')));
    s = await startStack({ logStream: stream });
  });
  after(async () => {
    await s.close();
  });

  it('keeps every token and secret out of the database and the logs', async () => {
    // Some failures, so that error paths log; then an expiry, so that tokens rotate.
    s.qbo.faults.configure({ rules: [{ kind: 'error500', rate: 1, method: 'POST', path: '/salesreceipt', count: 2 }] });
    s.qbo.clock.advance(3_700_000);
    const response = await fetch(`${s.hl.url}/_emulator/locations/${s.locationId}/actions/order-form-payment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        contact: { firstName: 'Secret', lastName: 'Keeper', email: 'secret.keeper@example.com' },
        items: [{ name: 'Vault', amount: 99 }],
      }),
    });
    const paid = (await response.json()) as { transactionId: string };
    await s.hl.flushWebhooks();
    await eventually(
      () =>
        s.qbo.admin
          .listEntities(s.realmId, 'SalesReceipt')
          .find((r) => String(r.PrivateNote ?? '').includes(paid.transactionId)),
      60_000,
      'the receipt',
    );
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 30_000);

    const qboTokens = (await s.engine.connections.readTokens(s.connection.id, 'qbo'))!;
    const hlTokens = (await s.engine.connections.readTokens(s.connection.id, 'hl'))!;
    const secrets = [
      qboTokens.accessToken,
      qboTokens.refreshToken!,
      hlTokens.accessToken,
      hlTokens.refreshToken!,
      'emulator-client-secret',
      s.hl.core.app.clientSecret,
      QBO_VERIFIER,
    ];
    assert.ok(logs.length > 0, 'the engine logged something');

    const tables = await s.t.db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema IN ('public', 'pgboss') AND table_type = 'BASE TABLE'`,
    );
    let dump = '';
    for (const { table_name } of tables.rows) {
      const schema = (
        await s.t.db.query<{ table_schema: string }>(
          `SELECT table_schema FROM information_schema.tables WHERE table_name = $1`,
          [table_name],
        )
      ).rows[0]!.table_schema;
      const rows = await s.t.db.query<{ row: string }>(
        `SELECT row_to_json(t)::text AS row FROM ${schema}."${table_name}" t`,
      );
      dump += rows.rows.map((r) => r.row).join('\n');
    }
    assert.ok(
      dump.includes('secret.keeper@example.com') || dump.includes(paid.transactionId),
      'the dump holds synced data',
    );
    for (const secret of secrets) {
      assert.ok(!dump.includes(secret), `a secret (${secret.slice(0, 4)}…) is readable in the database`);
      assert.ok(!logs.includes(secret), `a secret (${secret.slice(0, 4)}…) is in the logs`);
    }
  });
});
