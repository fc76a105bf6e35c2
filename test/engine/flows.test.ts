// The flow registry (src/sync/flows/index.ts) read the way the engine reads it: every queue has one declaring job,
// every routed event and schedule names a declared job with a payload that fits, payload schemas refuse what does
// not fit, and a job whose stored payload does not fit is recorded once as an error instead of being retried.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FLOWS } from '../../src/sync/flows/index.ts';
import { DECLARED_FLOWS } from '../../src/sync/engine/periodic.ts';
import { QUEUES, ROUTED_EVENTS, routeHighLevelEvent, routeQuickBooksEvent } from '../../src/sync/engine/routes.ts';
import { RECONCILIATION_KINDS } from '../../src/sync/services/reconciliation.ts';
import { salesReceiptsFlow } from '../../src/sync/flows/salesReceipts.ts';
import { listActivity } from '../../src/store/activity.ts';
import { startStack, eventually, type Stack } from '../support/stack.ts';

const jobs = DECLARED_FLOWS.flatMap((flow) => Object.values(flow.jobs).map((job) => ({ flow, job })));

describe('the flow registry', () => {
  it('declares every queue by exactly one job, and every QUEUES name among them', () => {
    const byQueue = new Map<string, string[]>();
    for (const { flow, job } of jobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), flow.name]);
    for (const [queue, flows] of byQueue) assert.equal(flows.length, 1, `${queue} is declared by ${flows.join(', ')}`);
    for (const queue of Object.values(QUEUES)) assert.ok(byQueue.has(queue), `${queue} has no declaring job`);
  });

  it('routes every listed event to a declared job, with a payload that fits its schema', () => {
    assert.deepEqual([...ROUTED_EVENTS.highlevel].sort(), ['contact', 'invoice', 'order']);
    assert.deepEqual([...ROUTED_EVENTS.quickbooks].sort(), ['Customer', 'Invoice', 'Payment']);
    const routes = [
      ...ROUTED_EVENTS.highlevel.map((kind) => routeHighLevelEvent(kind, 'SomeUpdate', 'rec1')),
      ...ROUTED_EVENTS.quickbooks.map((entity) => routeQuickBooksEvent(entity, '42', 'Update')),
    ];
    for (const route of routes) {
      assert.ok(route, 'every listed event is routed');
      const declared = jobs.find(({ job }) => job.queue === route.queue);
      assert.ok(declared, `${route.queue} is declared`);
      const data = { ...route.data, connectionId: 'c1', key: `c1:${route.key}`, inboxId: 7 };
      assert.ok(declared.job.payload.safeParse(data).success, `the ${route.queue} route's data fits its schema`);
    }
    assert.equal(routeHighLevelEvent('contact', 'ContactDndUpdate', 'rec1'), undefined, 'a flow may decline an event');
    assert.equal(routeHighLevelEvent('order', 'OrderCreate', undefined), undefined, 'an event without a record');
    assert.equal(routeQuickBooksEvent('Vendor', '1', 'Create'), undefined, 'an entity no flow lists');
  });

  it('schedules and reconciles only declared jobs, and only the kinds reconciliation compares', () => {
    for (const flow of DECLARED_FLOWS) {
      for (const schedule of flow.schedules ?? []) {
        const job = flow.jobs[schedule.job];
        assert.ok(job?.periodic, `${flow.name} schedules ${schedule.job}, a periodic job of its own`);
        const data = { connectionId: 'c1', key: schedule.key('c1'), ...schedule.data?.({ catchUp: true }) };
        assert.ok(job.payload.safeParse(data).success, `${schedule.job}'s scheduled payload fits`);
      }
      for (const r of flow.reconciles ?? []) {
        assert.ok(flow.jobs[r.job], `${flow.name} re-syncs ${r.kind} through ${r.job}, a job of its own`);
        assert.ok((RECONCILIATION_KINDS as readonly string[]).includes(r.kind), `${r.kind} is compared`);
      }
    }
    const sides = FLOWS.flatMap((flow) => (flow.reconciles ?? []).map((r) => `${r.kind}:${r.writes}`));
    assert.equal(new Set(sides).size, sides.length, 'one job re-syncs a kind on a side');
  });

  it('refuses payloads that do not fit', () => {
    const { crmTransaction, crmOrder } = salesReceiptsFlow.jobs;
    const base = { connectionId: 'c1', key: 'c1:txn:t1' };
    assert.ok(
      crmTransaction.payload.safeParse({ ...base, transactionId: 't1', extra: 1 }).success,
      'extra fields pass',
    );
    assert.equal(crmTransaction.payload.safeParse(base).success, false, 'no transaction');
    assert.equal(crmTransaction.payload.safeParse({ ...base, transactionId: 7 }).success, false, 'a number for an id');
    assert.equal(crmOrder.payload.safeParse({ key: 'k', orderId: 'o1' }).success, false, 'no connection');
    for (const { job } of jobs)
      assert.equal(job.payload.safeParse({ key: 'k' }).success, false, `${job.queue} needs its connection`);
  });
});

describe('a job whose payload does not fit', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(async () => {
    await s?.close();
  });

  it('is refused at enqueue', async () => {
    await assert.rejects(
      s.engine.queue.enqueue(QUEUES.crmOrder, { connectionId: s.connection.id, key: `${s.connection.id}:order:x` }),
      /crm-order job whose payload does not fit its schema: orderId/,
    );
  });

  it('is recorded once as an error when one is found in the store, and not retried', async () => {
    const key = `${s.connection.id}:order:bad`;
    // Written around the queue's check, as a job written by another version would be.
    await s.engine.queue.pgBoss.send(QUEUES.crmOrder, { connectionId: s.connection.id, key, orderId: 42 });
    const errors = async () =>
      (await listActivity(s.t.db, { connectionId: s.connection.id, status: 'error' })).filter(
        (e) => (e.detail as { code?: string } | null)?.code === 'bad-payload',
      );
    const [entry] = await eventually(
      async () => {
        const found = await errors();
        return found.length > 0 ? found : undefined;
      },
      20_000,
      'the bad payload recorded',
    );
    assert.equal(entry!.flow, salesReceiptsFlow.name);
    assert.match(entry!.message, /crm-order job could not run: its data does not fit the job \(orderId: /);
    await s.engine.queue.idle([QUEUES.crmOrder], 10_000);
    await new Promise((resolve) => setTimeout(resolve, 2500)); // longer than a retry's delay
    const seen = await errors();
    assert.equal(seen.length, 1, 'one entry');
    assert.equal(seen[0]!.occurrences, 1, 'met once: the job ended, it was not retried');
  });
});
