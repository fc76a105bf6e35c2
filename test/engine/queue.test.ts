import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb, type TestDb } from '../support/db.ts';
import { JobQueue, type JobData } from '../../src/sync/engine/queue.ts';

describe('job queue on the store', () => {
  let t: TestDb;
  let queue: JobQueue;
  const runs: Array<{ key: string; n: number; start: number; end: number }> = [];
  let failuresLeft = 2;
  const gaveUp: string[] = [];
  const fairOrder: string[] = [];
  const held: Array<{ n: number; release: () => void }> = [];
  const heldRuns: number[] = [];
  const localRuns: Array<{ n: number; start: number; end?: number }> = [];
  const leasesSeen: number[] = [];

  before(async () => {
    t = await openTestDb();
    queue = await JobQueue.start(t.db, { pollingIntervalSeconds: 0.5 });
    await queue.define({
      name: 'test-sync',
      concurrency: 3,
      handler: async (data) => {
        const start = Date.now();
        await new Promise((r) => setTimeout(r, 40));
        runs.push({ key: data.key, n: Number(data.n), start, end: Date.now() });
      },
    });
    await queue.define({
      name: 'test-flaky',
      retryLimit: 3,
      retryDelaySeconds: 1,
      handler: async () => {
        if (failuresLeft-- > 0) throw new Error('temporary');
      },
    });
    await queue.define({
      name: 'test-broken',
      retryLimit: 1,
      retryDelaySeconds: 1,
      handler: async () => {
        throw new Error('always');
      },
      onGiveUp: async (data) => {
        gaveUp.push(data.key);
      },
    });
    await queue.define({
      name: 'test-fair',
      concurrency: 1,
      handler: async (data) => {
        fairOrder.push(String(data.connectionId));
      },
    });
    await queue.define({
      name: 'test-local',
      concurrency: 4,
      recordLease: 'process',
      handler: async (data) => {
        leasesSeen.push(
          Number(
            (
              await t.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM record_leases WHERE key = $1`, [
                data.key,
              ])
            ).rows[0]!.n,
          ),
        );
        localRuns.push({ n: Number(data.n), start: Date.now() });
        await new Promise((r) => setTimeout(r, 80));
        localRuns[localRuns.length - 1]!.end = Date.now();
      },
    });
    await queue.define({
      name: 'test-held',
      concurrency: 4,
      handler: async (data) => {
        await new Promise<void>((release) => held.push({ n: Number(data.n), release }));
        heldRuns.push(Number(data.n));
      },
    });
    await queue.work();
  });
  after(async () => {
    await queue.stop();
    await t.close();
  });

  it('runs jobs of different records in parallel and never two of one record at once', async () => {
    const jobs: JobData[] = [];
    for (let n = 0; n < 4; n++) for (const key of ['a', 'b']) jobs.push({ connectionId: 'c', key: `rec:${key}`, n });
    for (const job of jobs) await queue.enqueue('test-sync', job);
    await queue.idle(['test-sync']);
    for (const key of ['rec:a', 'rec:b']) {
      const mine = runs.filter((r) => r.key === key).sort((x, y) => x.start - y.start);
      assert.ok(mine.length >= 1);
      for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.start >= mine[i - 1]!.end, `${key} runs overlapped`);
    }
  });

  it("serves connections in turn when one has a large backlog (priorities from each connection's backlog)", async () => {
    // Both backlogs are committed at once, the large one first: first in, first out would run all of A before B.
    const jobs: Array<{ connectionId: string; n: number; priority: number }> = [];
    for (const [connectionId, count] of [
      ['A', 12],
      ['B', 4],
    ] as const) {
      const backlog = queue.backlog('test-fair', connectionId);
      for (let n = 0; n < count; n++) jobs.push({ connectionId, n, priority: await backlog.next() });
    }
    await t.db.transaction(async (tx) => {
      for (const job of jobs)
        await queue.enqueue(
          'test-fair',
          { connectionId: job.connectionId, key: `${job.connectionId}:${job.n}` },
          { q: tx, priority: job.priority },
        );
    });
    queue.wake('test-fair');
    await queue.idle(['test-fair']);
    assert.equal(fairOrder.length, 16);
    const lastB = fairOrder.lastIndexOf('B');
    assert.ok(lastB <= 8, `B's 4 jobs should be done within the first 8, order was ${fairOrder.join('')}`);
    // A backlog counted from the store: the next job of a connection with 3 waiting gets priority -3.
    await t.db.transaction(async (tx) => {
      for (let n = 0; n < 3; n++)
        await queue.enqueue('test-fair', { connectionId: 'C', key: `C:${n}` }, { q: tx, startAfterSeconds: 3600 });
    });
    assert.equal(await queue.backlog('test-fair', 'C').next(), -3);
  });

  it('has a job wait in memory while this process works on its record, instead of putting it back for later', async () => {
    await queue.enqueue('test-held', { connectionId: 'c', key: 'rec:held', n: 1 });
    for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.length, 1, 'the first job runs');
    await queue.enqueue('test-held', { connectionId: 'c', key: 'rec:held', n: 2 });
    await new Promise((r) => setTimeout(r, 300)); // fetched meanwhile, and waiting for the record
    assert.equal(held.length, 1, 'the second job does not run while the first holds the record');
    held[0]!.release();
    for (let i = 0; i < 200 && held.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.length, 2, 'the second job runs as soon as the first is done, not a second later');
    held[1]!.release();
    await queue.idle(['test-held']);
    assert.deepEqual(heldRuns, [1, 2]);
    // Two jobs in all: the second was never put back on the queue.
    assert.equal((await queue.pgBoss.findJobs('test-held', { key: 'rec:held' })).length, 2);
  });

  it('runs jobs of one record one at a time within this process without a lease in the store, when the queue says so', async () => {
    // The second job is enqueued while the first runs (a waiting job would collapse into the first otherwise).
    await queue.enqueue('test-local', { connectionId: 'c', key: 'rec:local', n: 1 });
    for (let i = 0; i < 200 && localRuns.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await queue.enqueue('test-local', { connectionId: 'c', key: 'rec:local', n: 2 });
    await queue.idle(['test-local']);
    assert.deepEqual(
      localRuns.map((r) => r.n),
      [1, 2],
    );
    assert.ok(localRuns[1]!.start >= localRuns[0]!.end!, 'the second starts after the first ended');
    assert.deepEqual(leasesSeen, [0, 0], 'no lease row is written');
  });

  it('completes a job through pg-boss and releases its record lease, side by side', async () => {
    const key = 'complete:one';
    const statements: string[] = [];
    const query = t.db.query.bind(t.db);
    t.db.query = ((text: string, params?: readonly unknown[]) => {
      if (params?.includes(key)) statements.push(text.trim().split(/\s+/).slice(0, 3).join(' '));
      return query(text, params);
    }) as typeof t.db.query;
    try {
      await queue.enqueue('test-sync', { connectionId: 'c', key, n: 1 });
      await queue.idle(['test-sync']);
    } finally {
      t.db.query = query;
    }
    assert.deepEqual(
      statements,
      ['INSERT INTO record_leases', 'DELETE FROM record_leases'],
      'the lease taken, then released',
    );
    assert.equal(
      (await t.db.query(`SELECT 1 FROM record_leases WHERE key = $1`, [key])).rows.length,
      0,
      'the lease is gone',
    );
    const [job] = await queue.pgBoss.findJobs('test-sync', { key });
    assert.equal(job?.state, 'completed');
    assert.equal(job?.output ?? null, null, 'a job that returns nothing completes without output');
  });

  it('makes many jobs in one statement as pg-boss makes them one by one, none for a record whose job waits', async () => {
    const settings = (job: {
      priority: number;
      retryLimit: number;
      retryDelay: number;
      retryBackoff: boolean;
      expireInSeconds: number;
      deleteAfterSeconds: number;
      policy: string;
      deadLetter: string | null;
      startAfter: Date;
      keepUntil: Date;
    }) => ({
      retryLimit: job.retryLimit,
      retryDelay: job.retryDelay,
      retryBackoff: job.retryBackoff,
      expireInSeconds: job.expireInSeconds,
      deleteAfterSeconds: job.deleteAfterSeconds,
      policy: job.policy,
      deadLetter: job.deadLetter ?? null,
      keepMinutes: Math.round((new Date(job.keepUntil).getTime() - new Date(job.startAfter).getTime()) / 60_000),
    });
    await queue.enqueue(
      'test-sync',
      { connectionId: 'm', key: 'many:one-by-one' },
      { priority: -3, startAfterSeconds: 60 },
    );
    const [single] = await queue.pgBoss.findJobs('test-sync', { key: 'many:one-by-one' });
    await queue.enqueue('test-sync', { connectionId: 'm', key: 'many:b' }, { startAfterSeconds: 60 }); // waits (a minute)
    let statements = 0;
    const seen: string[] = [];
    const query = t.db.query.bind(t.db);
    t.db.query = ((text: string, params?: readonly unknown[]) => {
      // not other queues' polls
      if (params?.some((p) => typeof p === 'string' && p.includes('many:a'))) {
        statements += 1;
        seen.push(text.replace(/\s+/g, ' ').slice(0, 160));
      }
      return query(text, params);
    }) as typeof t.db.query;
    let made: number;
    try {
      made = await queue.enqueueMany('test-sync', [
        { data: { connectionId: 'm', key: 'many:a', n: 1 }, priority: -3 },
        { data: { connectionId: 'm', key: 'many:b', n: 2 }, priority: -4 },
        { data: { connectionId: 'm', key: 'many:c', n: 3 }, priority: -5 },
      ]);
    } finally {
      t.db.query = query;
    }
    assert.equal(statements, 1, `one statement for the three, not:\n${seen.join('\n')}`);
    assert.equal(made, 2, 'the record with a waiting job gets no second one');
    const rows = [
      ...(await queue.pgBoss.findJobs<JobData>('test-sync', { key: 'many:a' })),
      ...(await queue.pgBoss.findJobs<JobData>('test-sync', { key: 'many:c' })),
    ];
    assert.deepEqual(
      rows.map((r) => [r.singletonKey, r.data.n, r.priority]),
      [
        ['many:a', 1, -3],
        ['many:c', 3, -5],
      ],
    );
    assert.deepEqual(settings(rows[0]!), settings(single!));
    assert.equal(
      (await queue.pgBoss.findJobs<JobData>('test-sync', { key: 'many:b' }))[0]?.data.n,
      undefined,
      'the waiting job is the one enqueued first',
    );
    for (const key of ['many:one-by-one', 'many:b']) {
      await queue.pgBoss.deleteJob(
        'test-sync',
        (await queue.pgBoss.findJobs('test-sync', { key })).map((j) => j.id),
      );
    }
    await queue.idle(['test-sync']);
  });

  it('collapses events for a record into one waiting job', async () => {
    runs.length = 0;
    const ids = [];
    for (let n = 0; n < 5; n++)
      ids.push(await queue.enqueue('test-sync', { connectionId: 'c', key: 'rec:z', n }, { startAfterSeconds: 1 }));
    assert.equal(ids.filter(Boolean).length, 1);
    await queue.idle(['test-sync']);
    assert.equal(runs.filter((r) => r.key === 'rec:z').length, 1);
  });

  it('enqueues inside a transaction only when it commits', async () => {
    runs.length = 0;
    await assert.rejects(
      t.db.transaction(async (tx) => {
        await queue.enqueue('test-sync', { connectionId: 'c', key: 'rec:rolled-back' }, { q: tx });
        throw new Error('rollback');
      }),
    );
    await t.db.transaction(async (tx) => {
      await queue.enqueue('test-sync', { connectionId: 'c', key: 'rec:committed' }, { q: tx });
    });
    queue.wake('test-sync');
    await queue.idle(['test-sync']);
    assert.deepEqual(
      runs.map((r) => r.key),
      ['rec:committed'],
    );
  });

  it('retries a failing job with backoff until it succeeds', async () => {
    await queue.enqueue('test-flaky', { connectionId: 'c', key: 'rec:flaky' });
    await queue.idle(['test-flaky'], 60_000);
    assert.equal(failuresLeft, -1, 'two failures then one success');
    assert.equal((await queue.counts('test-flaky')).failed, 0);
  });

  it('parks a job that keeps failing and reports it once', async () => {
    await queue.enqueue('test-broken', { connectionId: 'c', key: 'rec:broken' });
    await queue.idle(['test-broken'], 60_000);
    assert.deepEqual(gaveUp, ['rec:broken']);
    assert.equal((await queue.counts('test-broken')).failed, 1);
  });
});
