import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Json, Sandbox } from './helpers.ts';
import { createCustomer, createServiceItem, entity, fault, startSandbox } from './helpers.ts';

describe('QuickBooks emulator batch and change data capture', () => {
  let sb: Sandbox;
  let item: Json;
  let customer: Json;

  before(async () => {
    sb = await startSandbox();
    item = await createServiceItem(sb, 'Batch Service', 25);
    customer = await createCustomer(sb, 'Batch Customer');
  });
  after(() => sb.close());

  it('runs mixed batch items in order and answers each by bId with HTTP 200, faults per item', async () => {
    const stale = await createCustomer(sb, 'Stale Target');
    await sb.api('POST', 'customer', { Id: stale.Id, SyncToken: '0', sparse: true, Notes: 'bump' });
    const receipt = entity(
      await sb.api('POST', 'salesreceipt', {
        CustomerRef: { value: customer.Id },
        Line: [{ Amount: 25, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: item.Id } } }],
      }),
      'SalesReceipt',
    );
    const answer = await sb.api('POST', 'batch', {
      BatchItemRequest: [
        { bId: 'bid1', operation: 'create', Vendor: { DisplayName: 'Batch Vendor' } },
        { bId: 'bid2', operation: 'delete', Invoice: { Id: '9999', SyncToken: '0' } },
        { bId: 'bid3', operation: 'update', Customer: { Id: stale.Id, SyncToken: '0', sparse: true, Notes: 'late' } },
        { bId: 'bid4', Query: "select * from Customer where DisplayName = 'Batch Customer'" },
        {
          bId: 'bid5',
          operation: 'update',
          optionsData: 'void',
          SalesReceipt: { Id: receipt.Id, SyncToken: receipt.SyncToken },
        },
      ],
    });
    assert.equal(answer.status, 200);
    const items = answer.body.BatchItemResponse as Json[];
    assert.deepEqual(
      items.map((i) => i.bId),
      ['bid1', 'bid2', 'bid3', 'bid4', 'bid5'],
    );
    assert.equal((items[0]!.Vendor as Json).DisplayName, 'Batch Vendor');
    assert.equal(((items[1]!.Fault as Json).Error as Json[])[0]!.code, '610');
    assert.equal(((items[2]!.Fault as Json).Error as Json[])[0]!.code, '5010');
    assert.equal((items[2]!.Fault as Json).type, 'ValidationFault');
    assert.equal(((items[3]!.QueryResponse as Json).Customer as Json[])[0]!.DisplayName, 'Batch Customer');
    assert.equal((items[4]!.SalesReceipt as Json).TotalAmt, 0);
    assert.equal((items[4]!.SalesReceipt as Json).PrivateNote, 'Voided');
    assert.ok(answer.body.time);
  });

  it('refuses more than 30 items with fault 1040', async () => {
    const tooMany = Array.from({ length: 31 }, (_, i) => ({ bId: `b${i}`, Query: 'select * from Customer' }));
    const answer = await sb.api('POST', 'batch', { BatchItemRequest: tooMany });
    assert.equal(answer.status, 400);
    assert.equal(fault(answer).code, '1040');
    const thirty = await sb.api('POST', 'batch', { BatchItemRequest: tooMany.slice(0, 30) });
    assert.equal(thirty.status, 200);
  });

  it('reports changes since a time, deleted objects as stubs, with the time field', async () => {
    sb.emulator.admin.advanceClock(60_000);
    const since = new Date(sb.emulator.clock.nowMs()).toISOString();
    sb.emulator.admin.advanceClock(1_000);
    const c = await createCustomer(sb, 'CDC Customer');
    const inv = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: c.Id },
        Line: [{ Amount: 25, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: item.Id } } }],
      }),
      'Invoice',
    );
    const doomed = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: c.Id },
        Line: [{ Amount: 5, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: item.Id } } }],
      }),
      'Invoice',
    );
    await sb.api('POST', 'invoice?operation=delete', { Id: doomed.Id, SyncToken: doomed.SyncToken });
    const answer = await sb.api(
      'GET',
      `cdc?entities=Customer,invoice,Payment&changedSince=${encodeURIComponent(since)}`,
    );
    assert.equal(answer.status, 200);
    const responses = (answer.body.CDCResponse as Json[])[0]!.QueryResponse as Json[];
    const customers = responses.find((r) => r.Customer)!.Customer as Json[];
    assert.deepEqual(
      customers.map((x) => x.DisplayName),
      ['CDC Customer'],
    );
    const invoices = responses.find((r) => r.Invoice)!.Invoice as Json[];
    assert.equal(invoices.length, 2);
    assert.equal(invoices[0]!.Id, inv.Id);
    assert.equal(invoices[0]!.TotalAmt, 25);
    const stub = invoices[1]!;
    assert.equal(stub.status, 'Deleted');
    assert.equal(stub.Id, doomed.Id);
    assert.deepEqual(Object.keys(stub).sort(), ['Id', 'MetaData', 'domain', 'status']);
    assert.equal(
      responses.find((r) => r.Payment),
      undefined,
      'types without changes are left out',
    );
    assert.match(String(answer.body.time), /-07:00$/);
  });

  it('refuses a changedSince older than 30 days and a missing parameter', async () => {
    const old = new Date(sb.emulator.clock.nowMs() - 31 * 24 * 3600 * 1000).toISOString();
    const answer = await sb.api('GET', `cdc?entities=Customer&changedSince=${encodeURIComponent(old)}`);
    assert.equal(answer.status, 400);
    assert.equal(fault(answer).code, '500');
    assert.match(fault(answer).Detail, /older than fixed days is not supported/);
    assert.equal(fault(await sb.api('GET', 'cdc?entities=Customer')).code, '2020');
  });

  it('caps a CDC answer at 1000 objects', async () => {
    const since = new Date(sb.emulator.clock.nowMs()).toISOString();
    sb.emulator.admin.advanceClock(1_000);
    const vendors = Array.from({ length: 30 }, (_, i) => ({
      bId: `v${i}`,
      operation: 'create',
      Vendor: { DisplayName: `Cap Vendor ${i}` },
    }));
    for (let round = 0; round < 35; round++) {
      const batch = vendors.map((v, i) => ({ ...v, Vendor: { DisplayName: `Cap Vendor ${round}-${i}` } }));
      assert.equal((await sb.api('POST', 'batch', { BatchItemRequest: batch })).status, 200);
    }
    const answer = await sb.api('GET', `cdc?entities=Vendor&changedSince=${encodeURIComponent(since)}`);
    const list = ((answer.body.CDCResponse as Json[])[0]!.QueryResponse as Json[])[0]!.Vendor as Json[];
    assert.equal(list.length, 1000);
  });
});
