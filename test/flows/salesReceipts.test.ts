import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { listActivity } from '../../src/store/activity.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { listedTransaction, pollPayments } from '../../src/sync/flows/paymentPolling.ts';
import { customerIdsWithEmail } from '../../src/sync/services/customerIndex.ts';

type Rec = Record<string, unknown>;

async function admin(base: string, path: string, body: unknown): Promise<Rec> {
  const response = await fetch(`${base}/_emulator${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Rec;
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

describe('CRM payments become QuickBooks sales receipts (US company)', () => {
  let s: Stack;
  const receipts = () => s.qbo.admin.listEntities(s.realmId, 'SalesReceipt');
  const customers = () => s.qbo.admin.listEntities(s.realmId, 'Customer');
  const pay = (body: Rec) =>
    admin(s.hl.url, `/locations/${s.locationId}/actions/order-form-payment`, {
      card: { brand: 'visa', last4: '4242' },
      ...body,
    });
  const settle = async () => {
    await s.hl.flushWebhooks();
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
  };

  before(async () => {
    s = await startStack({ country: 'US' });
  });
  after(async () => {
    await s.close();
  });
  beforeEach(() => {
    s.qbo.faults.clear();
    s.hl.core.faults.clear();
  });

  it('turns one order-form payment into one sales receipt with the charged total, for a new customer', async () => {
    const paid = await pay({
      contact: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' },
      items: [
        { name: 'Consulting hour', amount: 120, qty: 2 },
        { name: 'Report', amount: 49.99 },
      ],
    });
    await settle();
    const receipt = await eventually(
      () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))),
      20_000,
      'the sales receipt',
    );
    assert.equal(receipt.TotalAmt, 289.99);
    const customer = customers().find((c) => (c.PrimaryEmailAddr as Rec | undefined)?.Address === 'ada@example.com');
    assert.ok(customer, 'a customer was created for the payer');
    assert.deepEqual(receipt.CustomerRef, { value: customer.Id, name: customer.DisplayName });
    assert.equal(receipts().length, 1);
    // The order's job synced its charge itself: no job of the transaction queue was needed.
    assert.equal(
      (
        await s.engine.queue.pgBoss.findJobs(QUEUES.crmTransaction, {
          key: `${s.connection.id}:txn:${String(paid.transactionId)}`,
        })
      ).length,
      0,
    );
  });

  it('creates one receipt when the same order webhook arrives three times', async () => {
    s.hl.core.faults.configure({ rules: [], webhooks: { duplicate: 1 } });
    const before = receipts().length;
    const paid = await pay({
      contact: { firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com' },
      items: [{ name: 'Workshop', amount: 300 }],
    });
    await settle();
    // And the poller finds the same charge again.
    await pollPayments(s.engine.contextFor(s.connection));
    await settle();
    const mine = receipts().filter((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId)));
    assert.equal(mine.length, 1);
    assert.equal(receipts().length, before + 1);
  });

  it('still has one receipt when QuickBooks commits the write but the answer is lost', async () => {
    s.qbo.faults.configure({
      rules: [{ kind: 'loseAnswer', rate: 1, method: 'POST', path: '/salesreceipt', count: 1 }],
    });
    const paid = await pay({
      contact: { firstName: 'Alan', lastName: 'Turing', email: 'alan@example.com' },
      items: [{ name: 'Workshop', amount: 150 }],
    });
    await settle();
    await eventually(
      () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))),
      30_000,
      'the receipt after the lost answer',
    );
    await settle();
    assert.equal(s.qbo.faults.stats().loseAnswer, 1, 'the fault fired');
    assert.equal(receipts().filter((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))).length, 1);
  });

  it("matches an existing customer whose email is 'Jane.Doe@Example.com ' to the contact jane.doe@example.com", async () => {
    const existing = s.qbo.admin.company(s.realmId)!;
    void existing;
    const token = s.qbo.admin.mintToken(s.realmId).access_token;
    const created = await fetch(`${s.qbo.url}/v3/company/${s.realmId}/customer?minorversion=75`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        DisplayName: 'Doe, Jane (bookkeeper entry)',
        PrimaryEmailAddr: { Address: 'Jane.Doe@Example.com ' },
      }),
    }).then((r) => r.json() as Promise<{ Customer: Rec }>);
    const count = customers().length;
    const paid = await pay({
      contact: { firstName: 'Jane', lastName: 'Doe', email: 'jane.doe@example.com' },
      items: [{ name: 'Workshop', amount: 80 }],
    });
    await settle();
    const receipt = await eventually(
      () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))),
      20_000,
      'the receipt',
    );
    assert.equal((receipt.CustomerRef as Rec).value, created.Customer.Id);
    assert.equal(customers().length, count, 'no new customer');
  });

  it("creates a customer for a contact named O'Brien", async () => {
    const paid = await pay({
      contact: { firstName: 'Seán', lastName: "O'Brien", email: 'sean.obrien@example.com' },
      items: [{ name: "O'Brien's special", amount: 10 }],
    });
    await settle();
    const receipt = await eventually(
      () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))),
      20_000,
      'the receipt',
    );
    const customer = customers().find((c) => c.Id === (receipt.CustomerRef as Rec).value)!;
    assert.equal(customer.DisplayName, "Seán O'Brien");
    const items = s.qbo.admin.listEntities(s.realmId, 'Item');
    assert.ok(items.some((i) => i.Name === "O'Brien's special"));
  });

  it('picks another DisplayName when a vendor already has the name', async () => {
    const token = s.qbo.admin.mintToken(s.realmId).access_token;
    const vendor = await fetch(`${s.qbo.url}/v3/company/${s.realmId}/vendor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ DisplayName: 'Marie Curie' }),
    });
    assert.equal(vendor.status, 200);
    const paid = await pay({
      contact: { firstName: 'Marie', lastName: 'Curie', email: 'marie@example.com' },
      items: [{ name: 'Workshop', amount: 60 }],
    });
    await settle();
    const receipt = await eventually(
      () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))),
      20_000,
      'the receipt',
    );
    const customer = customers().find((c) => c.Id === (receipt.CustomerRef as Rec).value)!;
    assert.equal(customer.DisplayName, 'Marie Curie (marie@example.com)');
  });

  it('customer look-ups share index refreshes, yet find a customer a bookkeeper created just before', async () => {
    const ctx = s.engine.contextFor(s.connection);
    const counts = () => s.qbo.admin.limits.counts.get(s.realmId)?.calls ?? 0;
    // QuickBooks' webhooks about the customers earlier tests created (each read back by a job) come first.
    await s.qbo.admin.webhooks.flush();
    await s.engine.queue.idle([QUEUES.qboCustomer], 60_000);
    await customerIdsWithEmail(ctx, 'nobody@example.com');
    const before = counts();
    const found = await Promise.all(
      Array.from({ length: 12 }, (_, i) => customerIdsWithEmail(ctx, `nobody${i}@example.com`)),
    );
    assert.deepEqual(found.flat(), []);
    const calls = counts() - before;
    assert.ok(calls >= 1 && calls <= 2, `12 concurrent look-ups made ${calls} QuickBooks calls, not 1-2`);
    // A customer created by a bookkeeper while a refresh runs is seen by a look-up that starts after it.
    const token = s.qbo.admin.mintToken(s.realmId).access_token;
    const running = customerIdsWithEmail(ctx, 'nobody@example.com');
    const created = await fetch(`${s.qbo.url}/v3/company/${s.realmId}/customer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ DisplayName: 'Index Late', PrimaryEmailAddr: { Address: 'Index.Late@Example.com ' } }),
    });
    assert.equal(created.status, 200);
    const id = String(((await created.json()) as { Customer: Rec }).Customer.Id);
    const [, late] = await Promise.all([running, customerIdsWithEmail(ctx, 'index.late@example.com')]);
    assert.deepEqual(late, [id]);
    // The overlap re-reads recent customers; unchanged rows are not rewritten.
    const rows = await s.t.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM qbo_customers WHERE connection_id = $1 AND qbo_id = $2`,
      [s.connection.id, id],
    );
    assert.equal(Number(rows.rows[0]!.n), 1);
  });

  it('gives a contact without email a clear, retryable error and no receipt', async () => {
    const paid = await pay({
      contact: { firstName: 'No', lastName: 'Email', phone: '+15550100999' },
      items: [{ name: 'Workshop', amount: 20 }],
    });
    await settle();
    const error = await eventually(
      async () =>
        (await listActivity(s.t.db, { connectionId: s.connection.id, status: 'error', openErrorsOnly: true })).find(
          (a) => a.crmId === paid.transactionId,
        ),
      20_000,
      'the error',
    );
    assert.match(error.message, /has no email/);
    assert.match(String(error.detail?.fix), /Add an email address/);
    assert.equal(error.retry?.queue, QUEUES.crmTransaction);
    assert.equal(receipts().filter((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))).length, 0);
  });

  it('gets through a storm of 429s', async () => {
    s.qbo.faults.configure({ rules: [{ kind: 'error429', rate: 0.5, path: `/v3/company/${s.realmId}` }] });
    const paid = await Promise.all(
      [1, 2, 3].map((n) =>
        pay({
          contact: { firstName: 'Storm', lastName: `Payer ${n}`, email: `storm${n}@example.com` },
          items: [{ name: 'Workshop', amount: 10 * n }],
        }),
      ),
    );
    await settle();
    for (const p of paid)
      await eventually(
        () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(p.transactionId))),
        60_000,
        'a receipt through the storm',
      );
    assert.ok((s.qbo.faults.stats().error429 ?? 0) > 0, '429s were injected');
  });

  it('refreshes an access token that expires mid-run', async () => {
    s.qbo.clock.advance(3_700_000);
    const paid = await pay({
      contact: { firstName: 'Late', lastName: 'Token', email: 'late.token@example.com' },
      items: [{ name: 'Workshop', amount: 5 }],
    });
    await settle();
    await eventually(
      () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))),
      20_000,
      'the receipt after a refresh',
    );
    const stored = await s.engine.connections.readTokens(s.connection.id, 'qbo');
    assert.ok(stored && new Date(stored.accessExpiresAt).getTime() > Date.now(), 'a fresh token was saved');
  });

  it('syncs a subscription and each renewal, a membership checkout and a calendar booking, found by polling', async () => {
    const card = { brand: 'mastercard', last4: '4444' };
    const sub = await admin(s.hl.url, `/locations/${s.locationId}/actions/subscription`, {
      contact: { firstName: 'Sub', lastName: 'Scriber', email: 'sub@example.com' },
      product: { name: 'Monthly plan', amount: 29 },
      card,
    });
    const renewal = await admin(s.hl.url, `/subscriptions/${String(sub.subscriptionId)}/renew`, {});
    const membership = await admin(s.hl.url, `/locations/${s.locationId}/actions/membership`, {
      contact: { firstName: 'Mem', lastName: 'Ber', email: 'member@example.com' },
      offer: { name: 'Gold membership', amount: 199 },
      card,
    });
    const booking = await admin(s.hl.url, `/locations/${s.locationId}/actions/calendar-payment`, {
      contact: { firstName: 'Book', lastName: 'Ing', email: 'booking@example.com' },
      service: { name: 'Strategy call', amount: 75 },
      card,
    });
    // Renewals come with no webhook at all: the poller finds them.
    await pollPayments(s.engine.contextFor(s.connection));
    await settle();
    for (const [txn, total] of [
      [sub.transactionId, 29],
      [renewal.transactionId, 29],
      [membership.transactionId, 199],
      [booking.transactionId, 75],
    ] as const) {
      const receipt = await eventually(
        () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(txn))),
        20_000,
        `the receipt of ${String(txn)}`,
      );
      assert.equal(receipt.TotalAmt, total);
      assert.equal((receipt.PaymentMethodRef as Rec | undefined)?.name, 'MasterCard');
    }
    const subscriber = customers().filter(
      (c) => (c.PrimaryEmailAddr as Rec | undefined)?.Address === 'sub@example.com',
    );
    assert.equal(subscriber.length, 1, 'the renewal reused the customer');
  });

  it('turns a CRM refund into a QuickBooks refund receipt, once per refunded amount', async () => {
    const paid = await pay({
      contact: { firstName: 'Re', lastName: 'Fund', email: 'refund@example.com' },
      items: [{ name: 'Course', amount: 100 }],
    });
    await settle();
    await eventually(
      () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId))),
      20_000,
      'the sale',
    );
    await admin(s.hl.url, `/transactions/${String(paid.transactionId)}/refund`, { amount: 40 });
    await pollPayments(s.engine.contextFor(s.connection));
    await settle();
    await pollPayments(s.engine.contextFor(s.connection));
    await settle();
    const refunds = () =>
      s.qbo.admin
        .listEntities(s.realmId, 'RefundReceipt')
        .filter((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId)));
    await eventually(() => (refunds().length > 0 ? true : undefined), 20_000, 'the refund receipt');
    assert.equal(refunds().length, 1);
    assert.equal(refunds()[0]!.TotalAmt, 40);
    await admin(s.hl.url, `/transactions/${String(paid.transactionId)}/refund`, {});
    await pollPayments(s.engine.contextFor(s.connection));
    await settle();
    await eventually(() => (refunds().length === 2 ? true : undefined), 20_000, 'the second refund receipt');
    assert.deepEqual(
      refunds()
        .map((r) => r.TotalAmt)
        .sort(),
      [40, 60],
    );
  });

  it('does not sync payments made before the connection date', async () => {
    const old = await pay({
      contact: { firstName: 'Old', lastName: 'Payment', email: 'old@example.com' },
      items: [{ name: 'Workshop', amount: 7 }],
    });
    // Pretend the connection was made after this payment.
    await s.t.db.query(`UPDATE connections SET connected_at = now() + interval '1 hour' WHERE id = $1`, [
      s.connection.id,
    ]);
    s.engine.forget(s.connection.id);
    const connection = (await s.engine.connections.get(s.connection.id))!;
    await s.engine.queue.enqueue(QUEUES.crmTransaction, {
      connectionId: connection.id,
      key: `${connection.id}:txn:${String(old.transactionId)}`,
      transactionId: old.transactionId,
    });
    await settle();
    await s.t.db.query(`UPDATE connections SET connected_at = $2 WHERE id = $1`, [
      s.connection.id,
      s.connection.connectedAt,
    ]);
    const skipped = await eventually(
      async () =>
        (await listActivity(s.t.db, { connectionId: s.connection.id, status: 'skipped' })).find(
          (a) => a.crmId === old.transactionId,
        ),
      20_000,
      'the skip',
    );
    assert.match(skipped.message, /before the connection/);
  });
});

describe('a payment found by a poll is synced from the transaction as listed, not read again', () => {
  let s: Stack;
  let transactionReads = 0;
  const receipts = () => s.qbo.admin.listEntities(s.realmId, 'SalesReceipt');
  const settle = async () => {
    await s.hl.flushWebhooks();
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
  };

  before(async () => {
    s = await startStack({
      country: 'US',
      hl: {
        observe: (r) => {
          if (r.method === 'GET' && /^\/payments\/transactions\/[^/?]+/.test(r.url)) transactionReads += 1;
        },
      },
    });
  });
  after(async () => {
    await s.close();
  });

  it('syncs a renewal and then its refund with no read of the transaction', async () => {
    const card = { brand: 'visa', last4: '4242' };
    const sub = await admin(s.hl.url, `/locations/${s.locationId}/actions/subscription`, {
      contact: { firstName: 'Re', lastName: 'Newal', email: 'renewal@example.com' },
      product: { name: 'Monthly plan', amount: 29 },
      card,
    });
    await settle();
    const renewal = await admin(s.hl.url, `/subscriptions/${String(sub.subscriptionId)}/renew`, {});
    transactionReads = 0;
    await pollPayments(s.engine.contextFor(s.connection));
    await settle();
    const receipt = await eventually(
      () => receipts().find((r) => String(r.PrivateNote ?? '').includes(String(renewal.transactionId))),
      20_000,
      'the renewal receipt',
    );
    assert.equal(receipt.TotalAmt, 29);
    await admin(s.hl.url, `/transactions/${String(renewal.transactionId)}/refund`, { amount: 10 });
    await pollPayments(s.engine.contextFor(s.connection));
    await settle();
    const refunds = () =>
      s.qbo.admin
        .listEntities(s.realmId, 'RefundReceipt')
        .filter((r) => String(r.PrivateNote ?? '').includes(String(renewal.transactionId)));
    await eventually(() => (refunds().length === 1 ? true : undefined), 20_000, 'the refund receipt');
    assert.equal(refunds()[0]!.TotalAmt, 10);
    assert.equal(transactionReads, 0, 'each job used the transaction its poll listed');
  });

  it('reads the transaction again on a retry, or when the listed copy or the payment is old', () => {
    const now = Date.parse('2026-12-04T12:00:00Z');
    const listed = {
      _id: 'txn1',
      amount: 29,
      currency: 'USD',
      status: 'succeeded',
      createdAt: '2026-12-04T11:00:00.000Z',
    };
    const job = (over: Record<string, unknown> = {}) => ({
      connectionId: 'c',
      key: 'c:txn:txn1',
      transactionId: 'txn1',
      listed,
      listedAt: '2026-12-04T11:55:00.000Z',
      ...over,
    });
    assert.equal(listedTransaction(job(), 1, now)?._id, 'txn1', 'first try, listed 5 minutes ago, paid an hour ago');
    assert.equal(listedTransaction(job(), 2, now), undefined, 'a retry reads again');
    assert.equal(
      listedTransaction(job({ listedAt: '2026-12-04T11:40:00.000Z' }), 1, now),
      undefined,
      'listed 20 minutes ago',
    );
    assert.equal(
      listedTransaction(job({ listed: { ...listed, createdAt: '2026-12-03T11:00:00.000Z' } }), 1, now),
      undefined,
      'a payment of yesterday',
    );
    assert.equal(
      listedTransaction(job({ listed: { ...listed, _id: 'other' } }), 1, now),
      undefined,
      'a copy of another transaction',
    );
    assert.equal(listedTransaction(job({ listed: { _id: 'txn1' } }), 1, now), undefined, 'a copy without an amount');
    assert.equal(
      listedTransaction(job({ listed: undefined, listedAt: undefined }), 1, now),
      undefined,
      'a job from a webhook or a Retry',
    );
  });
});
