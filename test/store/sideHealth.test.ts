// The sides' health as jobs fail and end (src/store/sideHealth.ts), against a real store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb, type TestDb } from '../support/db.ts';
import {
  failingSides,
  recordCallFailure,
  recordGaveUp,
  recordJobEnded,
  recordWaiting,
} from '../../src/store/sideHealth.ts';

describe('side health', () => {
  let t: TestDb;
  before(async () => {
    t = await openTestDb();
    await t.db.query(`INSERT INTO connections (id, name) VALUES ('a', 'A'), ('b', 'B')`);
  });
  after(async () => {
    await t.close();
  });

  /** A job that started after every failure so far. */
  const later = () => new Date(Date.now() + 1000);
  const wait = (connectionId: string, recordKey: string, periodic = false) =>
    recordWaiting(t.db, {
      connectionId,
      recordKey,
      side: 'quickbooks',
      queue: 'q',
      periodic,
      nextTryAt: new Date(Date.now() + 4000),
      error: 'HTTP 500, code 10000: error',
    });

  it('is failing while any record waits, counts records of its own connection only, and clears once none waits', async () => {
    assert.deepEqual(await wait('a', 'a:txn:1'), { outageStarted: true });
    assert.deepEqual(await wait('a', 'a:txn:1'), { outageStarted: false }, 'the same record failing again');
    assert.deepEqual(await wait('a', 'a:txn:2'), { outageStarted: false });
    await wait('a', 'a:poll', true);
    await wait('b', 'b:txn:9');
    const [qbo] = await failingSides(t.db, 'a');
    assert.equal(qbo!.side, 'quickbooks');
    assert.equal(qbo!.waitingRecords, 2, 'the poll is not a record; connection b is not counted');
    assert.ok(qbo!.nextTryAt && qbo!.nextTryAt.getTime() > Date.now());
    assert.deepEqual(await recordJobEnded(t.db, 'a', 'a:txn:1', later()), [], 'others still wait');
    assert.deepEqual(await recordJobEnded(t.db, 'a', 'a:other', later()), [], 'an unrelated success does not clear it');
    await recordJobEnded(t.db, 'a', 'a:poll', later());
    assert.deepEqual(await recordJobEnded(t.db, 'a', 'a:txn:2', later()), [{ side: 'quickbooks', announced: true }]);
    assert.deepEqual(await failingSides(t.db, 'a'), []);
    assert.equal((await failingSides(t.db, 'b'))[0]!.waitingRecords, 1, "b's outage goes on");
  });

  it('stays failing after its records gave up, until a job ends well; a failed call alone is not announced', async () => {
    await wait('a', 'a:txn:3');
    assert.deepEqual(
      await recordGaveUp(t.db, { connectionId: 'a', recordKey: 'a:txn:3', side: 'quickbooks', error: 'HTTP 503' }),
      { outageStarted: false },
    );
    const [qbo] = await failingSides(t.db, 'a');
    assert.equal(qbo!.waitingRecords, 0);
    assert.equal(qbo!.nextTryAt, null);
    assert.equal(qbo!.lastError, 'HTTP 503');
    assert.equal(qbo!.gaveUpRecords, 1);
    assert.deepEqual(await recordJobEnded(t.db, 'a', 'a:other', later()), [{ side: 'quickbooks', announced: true }]);
    await recordCallFailure(t.db, 'a', 'highlevel', 'HTTP 502; trying again');
    assert.deepEqual(
      (await failingSides(t.db, 'a')).map((f) => [f.side, f.waitingRecords]),
      [['highlevel', 0]],
    );
    assert.deepEqual(
      await recordJobEnded(t.db, 'a', 'a:other', new Date(Date.now() - 60_000)),
      [],
      'a job that started before the failure says nothing of it',
    );
    assert.deepEqual(await recordJobEnded(t.db, 'a', 'a:other', later()), [{ side: 'highlevel', announced: false }]);
  });

  it('leaves out a waiting record not met again for an hour (its job is long gone)', async () => {
    await wait('a', 'a:txn:stale');
    await t.db.query(
      `UPDATE waiting_records SET last_failed_at = now() - interval '2 hours' WHERE record_key = 'a:txn:stale'`,
    );
    assert.equal((await failingSides(t.db, 'a'))[0]!.waitingRecords, 0);
    assert.deepEqual(await recordJobEnded(t.db, 'a', 'a:other', later()), [{ side: 'quickbooks', announced: true }]);
    assert.equal(
      Number(
        (await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM waiting_records WHERE connection_id = 'a'`))
          .rows[0]!.n,
      ),
      0,
      'and deletes it',
    );
  });
});
