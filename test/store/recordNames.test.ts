// The record naming the activity reads (src/store/recordNames.ts) comes from the flows' declarations: the table
// the registry builds from them is the one the activity has always named records by, and a kind a flow declares
// gets its names and its echo test without the store being edited.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb, type TestDb } from '../support/db.ts';
import { FLOWS, LINK_KINDS, RECORD_NAMING } from '../../src/sync/flows/index.ts';
import { defineFlow, linkKindsOf, type FlowDeclaration } from '../../src/sync/engine/flow.ts';
import { namingTables, recordNaming } from '../../src/store/recordNames.ts';
import { listActivity, recordActivity } from '../../src/store/activity.ts';
import { saveLink } from '../../src/store/links.ts';

/** A flow of a link kind no flow writes today: QuickBooks Estimates for CRM quotes. */
const estimatesFlow = defineFlow({
  name: 'estimates',
  summary: 'CRM quotes -> QuickBooks estimates (made up for this test)',
  jobs: {},
  linkKinds: [
    {
      kind: 'estimate',
      quickbooks: { entity: 'Estimate', noun: 'Estimate' },
      crm: { kinds: ['quote'], noun: 'Quote' },
    },
  ],
});

describe('record naming from the flow declarations', () => {
  it('builds the table the activity has named records by', () => {
    assert.deepEqual(RECORD_NAMING.tables, {
      linkOfCrmKind: {
        transaction: ['salesReceipt'],
        order: ['salesReceipt'],
        invoice: ['invoice', 'importedInvoice'],
        contact: ['customer'],
      },
      linkOfQboKind: {
        SalesReceipt: ['salesReceipt'],
        RefundReceipt: ['refundReceipt'],
        Invoice: ['invoice', 'importedInvoice'],
        Customer: ['customer'],
        Payment: ['payment', 'qboPayment'],
        Item: ['item'],
      },
      qboKindOfLink: {
        salesReceipt: 'SalesReceipt',
        refundReceipt: 'RefundReceipt',
        invoice: 'Invoice',
        importedInvoice: 'Invoice',
        customer: 'Customer',
        payment: 'Payment',
        item: 'Item',
        qboPayment: 'Payment',
      },
      crmKindOfLink: {
        salesReceipt: 'transaction',
        invoice: 'invoice',
        importedInvoice: 'invoice',
        customer: 'contact',
      },
      noun: {
        SalesReceipt: 'Sales receipt',
        RefundReceipt: 'Refund receipt',
        Invoice: 'Invoice',
        Payment: 'Payment',
        Customer: 'Customer',
        Item: 'Item',
        transaction: 'Payment',
        order: 'Payment',
        invoice: 'Invoice',
        contact: 'Contact',
      },
    });
    assert.equal(LINK_KINDS.filter((k) => k.kind === 'customer').length, 1, 'a kind several flows write, once');
  });

  it('refuses a kind two flows declare differently, and a record kind called by two nouns', () => {
    const other = defineFlow({
      name: 'other',
      summary: 'declares customers otherwise',
      jobs: {},
      linkKinds: [{ kind: 'customer', quickbooks: { entity: 'Customer', noun: 'Client' } }],
    });
    assert.throws(
      () => linkKindsOf([...(FLOWS as readonly FlowDeclaration[]), other]),
      /customer is declared differently/,
    );
    assert.throws(
      () => namingTables([...LINK_KINDS, { kind: 'bill', quickbooks: { entity: 'Invoice', noun: 'Bill' } }]),
      /Invoice is called both "Invoice" and "Bill"/,
    );
  });

  describe('a kind a new flow declares', () => {
    let t: TestDb;
    const naming = recordNaming(linkKindsOf([...(FLOWS as readonly FlowDeclaration[]), estimatesFlow]));
    before(async () => {
      t = await openTestDb();
      await t.db.query(`INSERT INTO connections (id, name) VALUES ('a', 'A')`);
    });
    after(async () => {
      await t.close();
    });

    it('is in the built table', () => {
      assert.deepEqual(naming.tables.linkOfQboKind.Estimate, ['estimate']);
      assert.deepEqual(naming.tables.linkOfCrmKind.quote, ['estimate']);
      assert.equal(naming.tables.qboKindOfLink.estimate, 'Estimate');
      assert.equal(naming.tables.crmKindOfLink.estimate, 'quote');
      assert.equal(naming.tables.noun.Estimate, 'Estimate');
      assert.equal(naming.tables.noun.quote, 'Quote');
      assert.deepEqual(naming.tables.linkOfQboKind.Invoice, ['invoice', 'importedInvoice'], 'the others unchanged');
    });

    it('names its records and tells its echoes, the store unedited', async () => {
      await saveLink(t.db, {
        connectionId: 'a',
        kind: 'estimate',
        crmId: 'q1',
        qboId: '77',
        origin: 'crm',
        state: 'linked',
        snapshotHash: null,
        qboSyncToken: '0',
        qboUpdatedAt: null,
        crmUpdatedAt: null,
        data: { docNumber: 'E-1001', totalMinor: 12_345, currency: 'USD' },
      });
      await recordActivity(t.db, {
        connectionId: 'a',
        flow: 'webhooks',
        status: 'skipped',
        qboKind: 'Estimate',
        qboId: '77',
        message: 'Estimate.Create: ledgerlink wrote it',
      });
      const [facts] = await naming.recordFacts(t.db, 'a', [{ qboKind: 'Estimate', qboId: '77' }]);
      assert.equal(facts?.label, 'Estimate E-1001');
      assert.equal(facts?.key, 'estimate:q1');
      assert.deepEqual(facts?.crm, { kind: 'quote', id: 'q1' });
      assert.deepEqual(facts?.amount, { minor: 12_345, currency: 'USD', dueMinor: null });

      const [entry] = await listActivity(t.db, { connectionId: 'a' }, naming);
      assert.equal(entry?.echo, true, 'its own write coming back is an echo');
      assert.equal((await listActivity(t.db, { connectionId: 'a', withoutEchoes: true }, naming)).length, 0);
      const [unnamed] = await listActivity(t.db, { connectionId: 'a' }, RECORD_NAMING);
      assert.equal(unnamed?.echo, false, 'a naming without the kind does not know it');
    });
  });
});
