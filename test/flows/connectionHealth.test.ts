import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { listActivity } from '../../src/store/activity.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';

/** A CRM user takes an order-form payment (the HighLevel emulator's CRM action). */
function orderFormPayment(s: Stack, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${s.hl.url}/_emulator/locations/${s.locationId}/actions/order-form-payment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('a connection whose QuickBooks authorization is revoked', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(async () => {
    await s.close();
  });

  it('is marked revoked, stops its jobs and says how to reconnect', async () => {
    // The jobs the new connection started (its customer import, the first polls) are done first, so the payment's
    // job is the one that meets the revocation (else its webhooks arrive after it and are ignored, see below).
    await s.engine.queue.idle(
      [QUEUES.importCustomers, QUEUES.pollQboChanges, QUEUES.pollPayments, QUEUES.sweepInvoices],
      60_000,
    );
    assert.ok(s.qbo.admin.revokeTokens({ realmId: s.realmId }) > 0);
    const response = await orderFormPayment(s, {
      contact: { firstName: 'Re', lastName: 'Voked', email: 'revoked@example.com' },
      items: [{ name: 'Thing', amount: 9 }],
    });
    const paid = (await response.json()) as { transactionId: string };
    await s.hl.flushWebhooks();
    const connection = await eventually(
      async () => {
        const c = await s.engine.connections.get(s.connection.id);
        return c?.status === 'revoked' ? c : undefined;
      },
      30_000,
      'the connection to be marked revoked',
    );
    assert.match(connection.statusReason ?? '', /reconnect QuickBooks/);
    // The payment's own job is stopped (the customer import, started with the connection, is stopped too).
    const stopped = await eventually(
      async () =>
        (await listActivity(s.t.db, { connectionId: s.connection.id, status: 'error' })).find(
          (a) => a.flow === 'salesReceipts' && /Stopped/.test(a.message),
        ),
      30_000,
      'the error',
    );
    assert.ok(stopped.retry, 'the stopped job can be retried after reconnecting');
    assert.equal(
      s.qbo.admin
        .listEntities(s.realmId, 'SalesReceipt')
        .filter((r) => String(r.PrivateNote ?? '').includes(paid.transactionId)).length,
      0,
    );
    // Further events are recorded and ignored while the connection is revoked.
    const again = await orderFormPayment(s, {
      contact: { firstName: 'Re', lastName: 'Voked', email: 'revoked@example.com' },
      items: [{ name: 'Thing', amount: 9 }],
    });
    assert.equal(again.status, 200);
    await s.hl.flushWebhooks();
    const ignored = await eventually(
      async () => {
        const rows = await s.t.db.query<{ reason: string }>(
          `SELECT reason FROM inbox WHERE status = 'ignored' AND reason LIKE '%revoked%'`,
        );
        return rows.rows[0];
      },
      20_000,
      'an ignored event',
    );
    assert.match(ignored.reason, /reconnect it to sync again/);

    // The user reconnects: the stopped job runs again by itself, and the payment gets its receipt.
    const fresh = s.qbo.admin.mintToken(s.realmId);
    await s.engine.connections.attachQuickBooks(s.connection.id, {
      realmId: s.realmId,
      country: 'US',
      homeCurrency: 'USD',
      tokens: {
        accessToken: fresh.access_token,
        refreshToken: fresh.refresh_token,
        accessExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    await s.engine.connections.activate(s.connection.id);
    s.engine.forget(s.connection.id);
    assert.ok((await s.engine.resumeStoppedJobs(s.connection.id)) >= 1);
    await eventually(
      () =>
        s.qbo.admin
          .listEntities(s.realmId, 'SalesReceipt')
          .find((r) => String(r.PrivateNote ?? '').includes(paid.transactionId)),
      60_000,
      'the receipt after reconnecting',
    );
    assert.equal(
      (await listActivity(s.t.db, { connectionId: s.connection.id, openErrorsOnly: true })).filter((a) =>
        /Stopped/.test(a.message),
      ).length,
      0,
    );
  });

  it('keeps the jobs that run while the connection is paused, and runs them on resume', async () => {
    const response = await orderFormPayment(s, {
      contact: { firstName: 'Pau', lastName: 'Sed', email: 'paused@example.com' },
      items: [{ name: 'Thing', amount: 11 }],
    });
    const paid = (await response.json()) as { transactionId: string };
    await s.hl.flushWebhooks();
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
    await s.engine.connections.setStatus(s.connection.id, 'paused', 'Paused from the dashboard');
    // A job already queued (or enqueued by a poll) when the user pauses.
    const second = await orderFormPayment(s, {
      contact: { firstName: 'Pau', lastName: 'Sed', email: 'paused@example.com' },
      items: [{ name: 'Other thing', amount: 12 }],
    });
    const waiting = (await second.json()) as { transactionId: string };
    await s.engine.queue.enqueue(QUEUES.crmTransaction, {
      connectionId: s.connection.id,
      key: `${s.connection.id}:txn:${waiting.transactionId}`,
      transactionId: waiting.transactionId,
    });
    // The payment's order webhooks arrive while paused: held under the connection with their jobs, saying why.
    await s.hl.flushWebhooks();
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
    const receiptsOf = (id: string) =>
      s.qbo.admin.listEntities(s.realmId, 'SalesReceipt').filter((r) => String(r.PrivateNote ?? '').includes(id));
    assert.equal(receiptsOf(paid.transactionId).length, 1);
    assert.equal(receiptsOf(waiting.transactionId).length, 0, 'nothing written while paused');
    const stopped = (await listActivity(s.t.db, { connectionId: s.connection.id, openErrorsOnly: true })).filter((a) =>
      /paused/.test(a.message),
    );
    assert.equal(stopped.filter((a) => a.crmId === waiting.transactionId).length, 1, 'the job is kept, visibly');
    const held = (
      await s.t.db.query<{ event_type: string; connection_id: string | null; reason: string }>(
        `SELECT event_type, connection_id, reason FROM inbox WHERE status = 'held' ORDER BY id`,
      )
    ).rows;
    assert.deepEqual(
      held.map((e) => e.event_type).filter((t) => t.startsWith('Order')),
      ['OrderCreate', 'OrderStatusUpdate'],
    );
    assert.ok(
      held.every((e) => e.connection_id === s.connection.id && /syncs when it is resumed/.test(e.reason)),
      JSON.stringify(held),
    );
    assert.equal(
      stopped.filter((a) => a.flow === 'polling').length,
      0,
      'polls and sweeps are not recorded as stopped (the resume schedules them)',
    );
    await s.engine.connections.activate(s.connection.id);
    assert.equal(await s.engine.resumeStoppedJobs(s.connection.id), 1);
    assert.equal(
      (await s.t.db.query(`SELECT 1 FROM inbox WHERE status = 'held'`)).rows.length,
      0,
      'the held events got their jobs',
    );
    assert.ok(
      (await listActivity(s.t.db, { connectionId: s.connection.id, text: 'received while the connection was paused' }))
        .length >= 1,
      "said in the connection's activity",
    );
    await eventually(() => receiptsOf(waiting.transactionId)[0], 60_000, 'the receipt after resuming');
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
    assert.equal(receiptsOf(waiting.transactionId).length, 1, 'one receipt');
    assert.equal(
      (await listActivity(s.t.db, { connectionId: s.connection.id, openErrorsOnly: true })).filter((a) =>
        /paused/.test(a.message),
      ).length,
      0,
    );
  });
});
