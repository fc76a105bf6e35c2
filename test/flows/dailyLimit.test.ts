// HighLevel's daily limit (200,000 requests per app and location, reference §6), end to end: both emulators, the
// engine and the store. The emulator's daily counter is set through its admin API; its answers' X-RateLimit-Daily-*
// headers are all the engine knows.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { listActivity } from '../../src/store/activity.ts';
import { readCursor } from '../../src/store/cursors.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { RetryLater } from '../../src/sync/engine/errors.ts';
import { LIVE_RESERVE } from '../../src/sync/services/dailyReserve.ts';
import { CUSTOMER_IMPORT_CURSOR, importCustomers, type ImportProgress } from '../../src/sync/flows/contactImport.ts';
import { CONTACTS_FLOW } from '../../src/sync/flows/qboCustomers.ts';
import { emulatorAdmin } from '../support/emulatorAdmin.ts';

type Rec = Record<string, unknown>;

const hlAdmin = (base: string, path: string, body: unknown): Promise<Rec> => emulatorAdmin(base, 'POST', path, body);

const setDailyRemaining = (s: Pick<Stack, 'hl'>, locationId: string, remaining: number) =>
  hlAdmin(s.hl.url, '/rate-limits/daily', { locationId, remaining });
const pay = (s: Stack, email: string, amount: number) =>
  hlAdmin(s.hl.url, `/locations/${s.locationId}/actions/order-form-payment`, {
    contact: { firstName: 'Live', lastName: 'Payer', email },
    items: [{ name: 'Consulting hour', amount }],
    card: { brand: 'visa', last4: '4242' },
  });
const receiptFor = (s: Stack, transactionId: unknown) =>
  s.qbo.admin
    .listEntities(s.realmId, 'SalesReceipt')
    .find((r) => String(r.PrivateNote ?? '').includes(String(transactionId)));

/** Jobs of a queue waiting to run, with how many seconds ahead each is due. */
async function waitingJobs(
  s: Stack,
  queue: string,
): Promise<Array<{ data: Rec; dueInSeconds: number; retries: number }>> {
  const jobs = await s.engine.queue.pgBoss.findJobs<Rec>(queue, { queued: true });
  return jobs.map((j) => ({
    data: j.data,
    dueInSeconds: (new Date(j.startAfter).getTime() - Date.now()) / 1000,
    retries: j.retryCount,
  }));
}

describe('bulk imports leave the last tenth of the daily budget to live work', () => {
  let s: Stack;
  const CUSTOMERS = 300; // a page of 200, then the rest
  const reserveStops = async () =>
    (await listActivity(s.t.db, { connectionId: s.connection.id, flow: CONTACTS_FLOW, limit: 1000 })).filter(
      (e) => e.detail?.code === 'daily-reserve',
    );
  const progress = () => readCursor<ImportProgress>(s.t.db, s.connection.id, CUSTOMER_IMPORT_CURSOR);

  before(async () => {
    s = await startStack({
      country: 'US',
      // Both sides ten times HighLevel's limits, so that a page of the import takes seconds; the daily budget grows
      // the same way (2,000,000, of which 200,000 are the reserve).
      qbo: { limits: false },
      hl: { limitFactor: 10 },
      engine: { limitFactor: 10, concurrency: 2 },
      beforeConnect: async ({ qbo, hl, realmId, locationId }) => {
        const company = qbo.admin.company(realmId)!;
        for (let i = 1; i <= CUSTOMERS; i++) {
          qbo.admin.accounting.create(company, 'Customer', {
            DisplayName: `Customer ${i}`,
            GivenName: `Given${i}`,
            FamilyName: `Family${i}`,
            PrimaryEmailAddr: { Address: `customer${i}@example.com` },
          });
        }
        hl.core.webhooks.config.events = new Set(['OrderCreate', 'OrderStatusUpdate']);
        // The first page (about 400 HighLevel calls) takes the location below the reserve.
        await setDailyRemaining({ hl }, locationId, hl.core.daily.limit * LIVE_RESERVE + 150);
      },
    });
  });
  after(async () => {
    await s.close();
  });

  it('stops the customer import at the reserve, says so once, and puts the import back for later', async () => {
    const [stop] = await eventually(
      async () => {
        const found = await reserveStops();
        return found.length > 0 ? found : undefined;
      },
      90_000,
      'the import to stop at the reserve',
    );
    assert.equal(stop!.status, 'info', 'a pause, not an error awaiting a person');
    assert.match(
      stop!.message,
      new RegExp(
        `^The customer import is paused: HighLevel location ${s.locationId} has \\d+ of its 2000000 daily requests left`,
      ),
    );
    assert.match(stop!.message, /resumes by itself/);
    assert.ok(Number(stop!.detail?.remaining) < 200_000, `below the reserve (${String(stop!.detail?.remaining)})`);

    const stoppedAt = await progress();
    assert.equal(stoppedAt?.done, 200, 'the first page was imported, the second waits');
    assert.equal(stoppedAt?.finishedAt, undefined);
    const [job] = await eventually(
      async () => {
        const jobs = await waitingJobs(s, QUEUES.importCustomers);
        return jobs.length > 0 ? jobs : undefined;
      },
      10_000,
      'the import job to be put back',
    );
    assert.ok(job!.dueInSeconds > 14 * 60, `the import looks again in a quarter of an hour (${job!.dueInSeconds} s)`);

    // Another slice meanwhile (a restart carries unfinished imports on) stops again, and says nothing new.
    await assert.rejects(importCustomers(s.engine.contextFor(s.connection)), RetryLater);
    assert.equal((await reserveStops()).length, 1, 'one entry per stop');
    assert.equal(
      (await listActivity(s.t.db, { connectionId: s.connection.id, openErrorsOnly: true })).length,
      0,
      'no error for a person',
    );
  });

  it('still turns a live order-form payment into a sales receipt', async () => {
    const paid = await pay(s, 'live.one@example.com', 120);
    await s.hl.flushWebhooks();
    const receipt = await eventually(() => receiptFor(s, paid.transactionId), 30_000, 'the sales receipt');
    assert.equal(receipt.TotalAmt, 120);
    assert.equal((await progress())?.done, 200, 'the import is still waiting');
  });

  it('carries on by itself once HighLevel reports the budget back', async () => {
    await setDailyRemaining(s, s.locationId, s.hl.core.daily.limit);
    // Live work's next answer brings the news (any HighLevel call of this process would).
    const paid = await pay(s, 'live.two@example.com', 80);
    await s.hl.flushWebhooks();
    await eventually(() => receiptFor(s, paid.transactionId), 30_000, 'the second sales receipt');
    // The quarter of an hour passes: the waiting slice is due now.
    for (const job of await s.engine.queue.pgBoss.findJobs(QUEUES.importCustomers, { queued: true })) {
      if (job.state === 'created')
        await s.engine.queue.pgBoss.update(QUEUES.importCustomers, undefined, { id: job.id, startAfter: new Date() });
    }
    const done = await eventually(
      async () => {
        const p = await progress();
        return p?.finishedAt ? p : undefined;
      },
      90_000,
      'the import to finish',
    );
    // Every QuickBooks customer: the 300, and the two payers the receipts created meanwhile.
    assert.equal(done.done, s.qbo.admin.listEntities(s.realmId, 'Customer').length);
    const emails = new Set([...s.hl.core.store.contactsOf(s.locationId).values()].map((c) => c.email));
    for (let i = 1; i <= CUSTOMERS; i++)
      assert.ok(emails.has(`customer${i}@example.com`), `customer ${i} has its contact`);
    assert.equal((await reserveStops()).length, 1);
    assert.deepEqual(
      await readCursor(s.t.db, s.connection.id, `daily-reserve:${CONTACTS_FLOW}`),
      { stoppedAt: null },
      'the stop is over: a later one is recorded again',
    );
  });
});

describe('with no daily budget left, nothing more goes to HighLevel and jobs wait for it', () => {
  let s: Stack;

  before(async () => {
    s = await startStack({
      country: 'US',
      beforeConnect: async ({ hl }) => {
        hl.core.webhooks.config.events = new Set(['OrderCreate', 'OrderStatusUpdate']);
      },
    });
    await eventually(
      async () => (await readCursor<ImportProgress>(s.t.db, s.connection.id, CUSTOMER_IMPORT_CURSOR))?.finishedAt,
      30_000,
      'the (empty) customer import',
    );
  });
  after(async () => {
    await s.close();
  });

  /** The order's job once put back for later: none running, one waiting more than a minute ahead. */
  const parkedOrderJob = (orderId: unknown) =>
    eventually(
      async () => {
        const running = await s.engine.queue.counts(QUEUES.crmOrder);
        const waiting = (await waitingJobs(s, QUEUES.crmOrder)).filter((j) => j.data.orderId === orderId);
        return running.active === 0 && waiting.length === 1 && waiting[0]!.dueInSeconds > 60 ? waiting[0] : undefined;
      },
      30_000,
      `the job of order ${String(orderId)} to be put back for later`,
    );

  it('refuses locally after HighLevel says the day is spent, and puts the jobs back instead of spending their tries', async () => {
    await setDailyRemaining(s, s.locationId, 0);
    const first = await pay(s, 'first@example.com', 50);
    await s.hl.flushWebhooks();
    const firstJob = await parkedOrderJob(first.orderId);
    // HighLevel's 429 said 0 left: from now on this process sends HighLevel nothing for the location.
    const sent = s.hl.core.apiRequestCount;

    const second = await pay(s, 'second@example.com', 60);
    await s.hl.flushWebhooks();
    const secondJob = await parkedOrderJob(second.orderId);
    assert.equal(s.hl.core.apiRequestCount, sent, 'no HighLevel request was sent for the second payment');

    for (const job of [firstJob, secondJob]) {
      assert.ok(job.dueInSeconds > 14 * 60, `the job runs again in a quarter of an hour (${job.dueInSeconds} s)`);
      assert.equal(job.retries, 0, 'none of its tries spent');
    }
    assert.equal((await s.engine.queue.counts(QUEUES.crmOrder)).failed, 0);
    const gaveUp = await listActivity(s.t.db, { connectionId: s.connection.id, text: 'Gave up' });
    assert.equal(gaveUp.length, 0, 'nothing given up');
    assert.equal(receiptFor(s, first.transactionId), undefined);
  });
});
