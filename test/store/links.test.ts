// The links repository against a real store (src/store/links.ts, src/store/linkClaims.ts): the pending-claim protocol
// every create on a side without idempotency keys goes through, and the guarded upsert that keeps a newer state.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb, type TestDb } from '../support/db.ts';
import {
  findLinkByCrmId,
  findLinkByQboId,
  rememberSyncToken,
  saveLink,
  saveLinkUnlessNewer,
  type LinkToSave,
} from '../../src/store/links.ts';
import {
  ABANDONED_CLAIM_MS,
  claimRecord,
  commitClaim,
  dropAbandonedClaim,
  dropClaim,
  markClaimMayExist,
  releaseClaim,
  takeOverClaim,
} from '../../src/store/linkClaims.ts';

describe('links', () => {
  let t: TestDb;
  before(async () => {
    t = await openTestDb();
    await t.db.query(`INSERT INTO connections (id, name) VALUES ('a', 'A'), ('b', 'B')`);
  });
  after(async () => {
    await t.close();
  });

  /** Makes a claim look as old as a claim left by a worker that died. */
  const age = async (connectionId: string, qboId: string) =>
    t.db.query(
      `UPDATE links SET updated_at = now() - make_interval(secs => $3) WHERE connection_id = $1 AND qbo_id = $2`,
      [connectionId, qboId, ABANDONED_CLAIM_MS / 1000 + 1],
    );

  const claimCustomer = (qboId: string, holder: string, connectionId = 'a') =>
    claimRecord(t.db, {
      connectionId,
      kind: 'customer',
      crmId: `qbo-customer:${qboId}`,
      qboId,
      origin: 'qbo',
      data: { holder, mayExist: true },
    });
  const of = (qboId: string, connectionId = 'a') => ({ connectionId, kind: 'customer', qboId }) as const;

  describe('the pending claim', () => {
    it('is granted to one caller only, per connection', async () => {
      assert.equal(await claimCustomer('1', 'first'), true);
      assert.equal(await claimCustomer('1', 'second'), false, 'a second claim on the same record is refused');
      assert.equal(await claimCustomer('1', 'other', 'b'), true, 'another connection claims its own record');
      const claim = await findLinkByQboId(t.db, 'a', 'customer', '1');
      assert.equal(claim?.state, 'pending');
      assert.equal(claim?.data.holder, 'first');
    });

    it('is refused to concurrent claimers: exactly one of many wins', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => claimCustomer('2', `h${i}`)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('is not taken over while its holder is alive, and is once it is abandoned', async () => {
      await claimCustomer('3', 'dead');
      assert.equal(await takeOverClaim(t.db, of('3'), { holder: 'next', releasedIsFree: true }), undefined);
      await age('a', '3');
      assert.deepEqual(await takeOverClaim(t.db, of('3'), { holder: 'next', releasedIsFree: true }), {
        mayExist: true,
      });
      assert.equal((await findLinkByQboId(t.db, 'a', 'customer', '3'))?.data.holder, 'next');
      assert.equal(
        await takeOverClaim(t.db, of('3'), { holder: 'third', releasedIsFree: true }),
        undefined,
        'the take-over renews the claim for its new holder',
      );
    });

    it('lets two concurrent take-overs of an abandoned claim have it once', async () => {
      await claimCustomer('4', 'dead');
      await age('a', '4');
      const taken = await Promise.all(
        Array.from({ length: 6 }, (_, i) => takeOverClaim(t.db, of('4'), { holder: `h${i}`, releasedIsFree: true })),
      );
      assert.equal(taken.filter(Boolean).length, 1);
    });

    it('once released by its holder, is free at once for a flow that releases claims', async () => {
      await claimCustomer('5', 'failing');
      await releaseClaim(t.db, of('5'), 'someone else');
      assert.equal(await takeOverClaim(t.db, of('5'), { holder: 'x', releasedIsFree: true }), undefined);
      await releaseClaim(t.db, of('5'), 'failing');
      const claim = await findLinkByQboId(t.db, 'a', 'customer', '5');
      assert.equal(claim?.state, 'pending', 'a released claim stays, so the next try looks before it creates');
      assert.equal(claim?.data.holder, undefined);
      assert.deepEqual(await takeOverClaim(t.db, of('5'), { holder: 'retry', releasedIsFree: true }), {
        mayExist: true,
      });
    });

    it('without a holder is a live claim for a flow that drops its claims on failure', async () => {
      const contact = { connectionId: 'a', kind: 'customer', crmId: 'contact-6' } as const;
      assert.equal(await claimRecord(t.db, { ...contact, origin: 'crm' }), true);
      assert.equal(await takeOverClaim(t.db, contact), undefined);
      assert.equal(await dropAbandonedClaim(t.db, contact), false, 'a live claim is not dropped as abandoned');
      await t.db.query(
        `UPDATE links SET updated_at = now() - make_interval(secs => $2) WHERE connection_id = 'a' AND crm_id = $1`,
        [contact.crmId, ABANDONED_CLAIM_MS / 1000 + 1],
      );
      assert.deepEqual(await takeOverClaim(t.db, contact), { mayExist: false });
      await dropClaim(t.db, contact);
      assert.equal(await findLinkByCrmId(t.db, 'a', 'customer', contact.crmId), undefined);
      assert.equal(await claimRecord(t.db, { ...contact, origin: 'crm' }), true, 'a dropped claim frees the record');
    });

    it('marked mayExist is free at once only for a flow that says so', async () => {
      const invoice = { connectionId: 'a', kind: 'importedInvoice', qboId: '7' } as const;
      await claimRecord(t.db, {
        ...invoice,
        crmId: 'qbo-invoice:7',
        origin: 'qbo',
        data: { holder: 'slice-1', invoiceNumber: '1007', mayExist: false },
      });
      await markClaimMayExist(t.db, invoice);
      assert.equal(await takeOverClaim(t.db, invoice, { holder: 'slice-2', releasedIsFree: true }), undefined);
      assert.deepEqual(
        await takeOverClaim(t.db, invoice, { holder: 'slice-2', releasedIsFree: true, mayExistIsFree: true }),
        { mayExist: true },
      );
    });

    it('becomes the link on commit, once, and never over another link of the same crm id', async () => {
      await claimCustomer('8', 'h');
      const linked = {
        crmId: 'contact-8',
        origin: 'qbo' as const,
        snapshotHash: 'hash',
        qboSyncToken: '0',
        qboUpdatedAt: null,
        crmUpdatedAt: null,
        data: { displayName: 'Eight' },
      };
      assert.equal(await commitClaim(t.db, of('8'), linked), 'linked');
      const link = await findLinkByCrmId(t.db, 'a', 'customer', 'contact-8');
      assert.equal(link?.state, 'linked');
      assert.equal(link?.qboId, '8');
      assert.equal(await commitClaim(t.db, of('8'), linked), 'claim-lost', 'a committed claim is committed once');
      await claimCustomer('9', 'h');
      assert.equal(await commitClaim(t.db, of('9'), linked), 'crm-id-taken');
      assert.equal((await findLinkByQboId(t.db, 'a', 'customer', '9'))?.state, 'pending');
    });
  });

  describe('the guarded upsert', () => {
    const link = (over: Partial<LinkToSave>): LinkToSave => ({
      connectionId: 'a',
      kind: 'customer',
      crmId: 'contact-g',
      qboId: 'g',
      origin: 'qbo',
      state: 'linked',
      snapshotHash: 'h1',
      qboSyncToken: '5',
      qboUpdatedAt: '2026-12-01T10:00:00-08:00',
      crmUpdatedAt: '2026-12-01T18:00:00.000Z',
      data: {},
      ...over,
    });

    it('does not overwrite a newer SyncToken with an older one', async () => {
      await saveLink(t.db, link({}));
      assert.equal(await saveLinkUnlessNewer(t.db, link({ qboSyncToken: '4', snapshotHash: 'old' })), false);
      assert.equal((await findLinkByCrmId(t.db, 'a', 'customer', 'contact-g'))?.snapshotHash, 'h1');
      assert.equal(await saveLinkUnlessNewer(t.db, link({ qboSyncToken: '10', snapshotHash: 'new' })), true);
      const saved = await findLinkByCrmId(t.db, 'a', 'customer', 'contact-g');
      assert.equal(saved?.qboSyncToken, '10', 'compared as numbers: 10 is later than 5');
      assert.equal(saved?.snapshotHash, 'new');
    });

    it('does not overwrite a later update time of either side', async () => {
      assert.equal(
        await saveLinkUnlessNewer(t.db, link({ qboSyncToken: '10', crmUpdatedAt: '2026-12-01T17:59:59.000Z' })),
        false,
        'an older HighLevel dateUpdated',
      );
      assert.equal(
        await saveLinkUnlessNewer(t.db, link({ qboSyncToken: '10', qboUpdatedAt: '2026-12-01T17:00:00Z' })),
        false,
        'an older QuickBooks LastUpdatedTime (compared as instants, not text: 17:00Z is before 10:00-08:00)',
      );
      assert.equal(
        await saveLinkUnlessNewer(t.db, link({ qboSyncToken: '10', data: { same: 'versions' } })),
        true,
        'the same versions write',
      );
      assert.equal(
        await saveLinkUnlessNewer(t.db, link({ qboSyncToken: null, qboUpdatedAt: '', crmUpdatedAt: null, data: {} })),
        true,
        'a version the write lacks decides nothing',
      );
    });

    it('inserts a link that does not exist yet', async () => {
      assert.equal(await saveLinkUnlessNewer(t.db, link({ crmId: 'contact-new', qboId: 'new' })), true);
      assert.equal((await findLinkByQboId(t.db, 'a', 'customer', 'new'))?.crmId, 'contact-new');
    });

    it('remembers a SyncToken only when it is not older than the one held', async () => {
      await saveLink(t.db, link({ crmId: 'contact-t', qboId: 't', qboSyncToken: '7' }));
      assert.equal(await rememberSyncToken(t.db, 'a', 'customer', 'contact-t', '6'), false);
      assert.equal(await rememberSyncToken(t.db, 'a', 'customer', 'contact-t', '8'), true);
      assert.equal((await findLinkByCrmId(t.db, 'a', 'customer', 'contact-t'))?.qboSyncToken, '8');
      assert.equal(await rememberSyncToken(t.db, 'b', 'customer', 'contact-t', '9'), false, 'scoped by connection');
    });
  });
});
