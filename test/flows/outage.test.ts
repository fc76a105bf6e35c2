// A provider that keeps failing (HTTP 500 on every sales receipt, every HighLevel payment read) is visible while the
// records wait: the connection's card says which side fails, since when, how many records wait and when the next
// try is, and the state clears by itself once the provider answers again, the records arriving exactly once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { emulatorAdmin, type Rec } from '../support/emulatorAdmin.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { listActivity } from '../../src/store/activity.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';

const PASSWORD = 'outage test password';

interface FailingSide {
  side: 'quickbooks' | 'highlevel';
  since: string;
  lastFailureAt: string;
  lastError: string;
  waitingRecords: number;
  nextTryAt: string | null;
  needsAttention: boolean;
}

async function loginCookie(s: Stack): Promise<string> {
  await createAdmin(s.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
  const response = await fetch(`${s.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  assert.equal(response.status, 200);
  return response.headers.get('set-cookie')!.split(';')[0]!;
}

async function failingSides(s: Stack, cookie: string): Promise<FailingSide[]> {
  const response = await fetch(`${s.url}/api/connections/${s.connection.id}`, { headers: { cookie } });
  assert.equal(response.status, 200);
  const card = (await response.json()) as { failingSides?: FailingSide[] };
  assert.ok(Array.isArray(card.failingSides), `the card has failingSides: ${JSON.stringify(card)}`);
  return card.failingSides;
}

const pay = (s: Stack, email: string, amount: number) =>
  emulatorAdmin(s.hl.url, 'POST', `/locations/${s.locationId}/actions/order-form-payment`, {
    card: { brand: 'visa', last4: '4242' },
    contact: { firstName: 'Out', lastName: 'Age', email },
    items: [{ name: 'Session', amount }],
  }) as Promise<Rec & { transactionId: string }>;

const receiptsOf = (s: Stack, transactionId: string) =>
  s.qbo.admin
    .listEntities(s.realmId, 'SalesReceipt')
    .filter((r) => String(r.PrivateNote ?? '').includes(transactionId));

describe('a lasting provider outage', () => {
  let s: Stack;
  let cookie: string;
  before(async () => {
    s = await startStack();
    cookie = await loginCookie(s);
    await s.engine.queue.idle(
      [QUEUES.importCustomers, QUEUES.pollQboChanges, QUEUES.pollPayments, QUEUES.sweepInvoices],
      60_000,
    );
  });
  after(async () => {
    s.qbo.faults.clear();
    s.hl.core.faults.clear();
    await s.close();
  });

  it('shows QuickBooks failing, since when, the records waiting and the next try within seconds, and clears by itself', async () => {
    assert.deepEqual(await failingSides(s, cookie), []);
    await emulatorAdmin(s.qbo.url, 'PUT', '/faults', {
      rules: [{ kind: 'error500', rate: 1, method: 'POST', path: '/salesreceipt' }],
    });
    const started = Date.now();
    const first = await pay(s, 'first.outage@example.com', 40);
    const second = await pay(s, 'second.outage@example.com', 60);
    await s.hl.flushWebhooks();

    const failing = await eventually(
      async () => {
        const sides = await failingSides(s, cookie);
        const qbo = sides.find((f) => f.side === 'quickbooks');
        return qbo && qbo.waitingRecords === 2 && qbo.nextTryAt ? { qbo, sides } : undefined;
      },
      20_000,
      'the card to show QuickBooks failing with both records waiting',
    );
    const seenAfter = Date.now() - started;
    assert.ok(seenAfter < 20_000, `seen after ${seenAfter} ms`);
    assert.deepEqual(
      failing.sides.map((f) => f.side),
      ['quickbooks'],
      'HighLevel answers: only QuickBooks is failing',
    );
    const since = Date.parse(failing.qbo.since);
    assert.ok(since >= started - 1000 && since <= Date.now(), `since ${failing.qbo.since}`);
    assert.ok(Date.parse(failing.qbo.nextTryAt!) > since, 'the next try is after the failure');
    assert.match(failing.qbo.lastError, /500/);
    assert.equal(failing.qbo.needsAttention, false, 'not yet past the alert threshold');
    // Activity says so too, once for the outage rather than once per record or retry.
    const noted = (await listActivity(s.t.db, { connectionId: s.connection.id, status: 'info' })).filter((a) =>
      /QuickBooks is failing/.test(a.message),
    );
    assert.equal(noted.length, 1, JSON.stringify(noted));
    assert.equal(receiptsOf(s, first.transactionId).length + receiptsOf(s, second.transactionId).length, 0);

    // The outage ends: the waiting records go through at their next try, and the card clears by itself.
    await emulatorAdmin(s.qbo.url, 'DELETE', '/faults');
    await eventually(
      async () => ((await failingSides(s, cookie)).length === 0 ? true : undefined),
      60_000,
      'the failing state to clear',
    );
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
    assert.equal(receiptsOf(s, first.transactionId).length, 1, 'the first payment has one receipt');
    assert.equal(receiptsOf(s, second.transactionId).length, 1, 'the second payment has one receipt');
    const recovered = (await listActivity(s.t.db, { connectionId: s.connection.id, status: 'info' })).filter((a) =>
      /QuickBooks answers again/.test(a.message),
    );
    assert.equal(recovered.length, 1);
    assert.equal(
      (await listActivity(s.t.db, { connectionId: s.connection.id, openErrorsOnly: true })).length,
      0,
      'nothing left for a person to retry',
    );
  });

  it('shows a side failing from its first call that gets no answer, before the job has spent its tries', async () => {
    // A connection dropped without an answer stands for a timeout (30 s a try against the real API).
    s.qbo.faults.configure({ rules: [{ kind: 'drop', rate: 1, method: 'POST', path: '/salesreceipt' }] });
    const paid = await pay(s, 'no.answer@example.com', 15);
    await s.hl.flushWebhooks();
    const early = await eventually(
      async () => (await failingSides(s, cookie)).find((f) => f.side === 'quickbooks'),
      20_000,
      'QuickBooks failing',
    );
    assert.equal(early.waitingRecords, 0, 'seen while the first job still tries');
    assert.match(early.lastError, /no answer/);
    await eventually(
      async () => (await failingSides(s, cookie)).find((f) => f.side === 'quickbooks' && f.waitingRecords === 1),
      30_000,
      'the record waiting',
    );
    s.qbo.faults.clear();
    await eventually(
      async () => ((await failingSides(s, cookie)).length === 0 ? true : undefined),
      60_000,
      'the failing state to clear',
    );
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
    assert.equal(receiptsOf(s, paid.transactionId).length, 1);
  });

  it('shows HighLevel failing the same way while its payment reads answer 500', async () => {
    const paid = await pay(s, 'hl.outage@example.com', 25);
    s.hl.core.faults.configure({ rules: [{ kind: 'error500', rate: 1, method: 'GET', path: '/payments/' }] });
    await s.hl.flushWebhooks();
    const hl = await eventually(
      async () =>
        (await failingSides(s, cookie)).find((f) => f.side === 'highlevel' && f.waitingRecords >= 1 && f.nextTryAt),
      30_000,
      'the card to show HighLevel failing',
    );
    assert.match(hl.lastError, /500/);
    assert.equal(
      (await failingSides(s, cookie)).some((f) => f.side === 'quickbooks'),
      false,
    );
    s.hl.core.faults.clear();
    await eventually(
      async () => ((await failingSides(s, cookie)).length === 0 ? true : undefined),
      60_000,
      'the failing state to clear',
    );
    await eventually(() => receiptsOf(s, paid.transactionId)[0], 30_000, 'the receipt');
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
    assert.equal(receiptsOf(s, paid.transactionId).length, 1);
  });
});
