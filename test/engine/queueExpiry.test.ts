import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb, type TestDb } from '../support/db.ts';
import { JobQueue } from '../../src/sync/engine/queue.ts';

describe('job queue: a job whose worker died', () => {
  let t: TestDb;
  let queue: JobQueue;

  before(async () => {
    t = await openTestDb();
    // No workers in this process: the job is taken by a fetch that is never completed, as a killed worker leaves it.
    queue = await JobQueue.start(t.db, { pollingIntervalSeconds: 0.5, expireInSeconds: 2 });
    await queue.define({ name: 'test-expiry', handler: async () => {} });
  });
  after(async () => {
    await queue?.stop();
    await t?.close();
  });

  it("goes back on the queue once its expiry has passed, by pg-boss's own supervisor", async () => {
    const id = await queue.enqueue('test-expiry', { connectionId: 'c', key: 'expiry:1' });
    assert.ok(id);
    const [taken] = await queue.pgBoss.fetch('test-expiry');
    assert.equal(taken?.id, id);
    assert.equal((await queue.pgBoss.getJobById('test-expiry', id))?.state, 'active');
    let state: string | undefined = 'active';
    for (let waited = 0; waited < 40 && state === 'active'; waited++) {
      await new Promise((r) => setTimeout(r, 500));
      state = (await queue.pgBoss.getJobById('test-expiry', id))?.state;
    }
    assert.notEqual(state, 'active', 'still active 20 s after a 2 s expiry');
  });
});
