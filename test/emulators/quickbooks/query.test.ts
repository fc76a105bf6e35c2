import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Json, Sandbox } from './helpers.ts';
import { createCustomer, createServiceItem, fault, startSandbox } from './helpers.ts';

describe('QuickBooks emulator query language', () => {
  let sb: Sandbox;
  const q = (text: string) => sb.api('GET', `query?query=${encodeURIComponent(text)}`);
  const rows = (answer: { body: Json }, entity: string): Json[] =>
    ((answer.body.QueryResponse as Json)[entity] as Json[] | undefined) ?? [];

  before(async () => {
    sb = await startSandbox();
    await createCustomer(sb, "Amy's Bird Sanctuary", {
      PrimaryEmailAddr: { Address: 'amy@birds.example' },
      CompanyName: 'Birds',
    });
    await createCustomer(sb, "O'Brien Builders", { PrimaryEmailAddr: { Address: 'ob@example.com' } });
    await createCustomer(sb, 'Cool Cars', { PrimaryEmailAddr: { Address: 'cars@example.com' } });
    for (let i = 1; i <= 12; i++) await createCustomer(sb, `Bulk ${String(i).padStart(2, '0')}`);
    const old = await createCustomer(sb, 'Retired Co');
    await sb.api('POST', 'customer', { Id: old.Id, SyncToken: old.SyncToken, sparse: true, Active: false });
    const item = await createServiceItem(sb, 'Widget Service', 10);
    const cust = await createCustomer(sb, 'Invoice Target');
    for (const amount of [10, 20, 30]) {
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: cust.Id },
        Line: [
          { Amount: amount, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: item.Id } } },
        ],
      });
    }
  });
  after(() => sb.close());

  it('finds by DisplayName with a backslash-escaped apostrophe, keywords and entity in any case', async () => {
    const a = await q("SELECT * FROM Customer WHERE DisplayName = 'Amy\\'s Bird Sanctuary'");
    assert.equal(rows(a, 'Customer').length, 1);
    assert.equal(rows(a, 'Customer')[0]!.DisplayName, "Amy's Bird Sanctuary");
    const lower = await q("select * from customer where displayname = 'O\\'Brien Builders'");
    assert.equal(rows(lower, 'Customer')[0]!.DisplayName, "O'Brien Builders");
    assert.deepEqual(Object.keys(lower.body.QueryResponse as Json).sort(), ['Customer', 'maxResults', 'startPosition']);
  });

  it('supports LIKE with %, IN, comparison operators and dotted fields', async () => {
    assert.equal(rows(await q("select * from Customer where DisplayName like 'Bulk%'"), 'Customer').length, 12);
    assert.equal(rows(await q("select * from Customer where DisplayName LIKE '%Cars'"), 'Customer').length, 1);
    assert.equal(
      rows(await q("select * from Customer where DisplayName in ('Cool Cars', 'Bulk 01', 'Nobody')"), 'Customer')
        .length,
      2,
    );
    assert.equal(
      rows(await q("select * from Customer where PrimaryEmailAddr = 'amy@birds.example'"), 'Customer').length,
      1,
    );
    assert.equal(rows(await q('select * from Invoice where TotalAmt > 15'), 'Invoice').length, 2);
    assert.equal(rows(await q('select * from Invoice where TotalAmt >= 20 and TotalAmt <= 20'), 'Invoice').length, 1);
    assert.equal(rows(await q('select * from Invoice where TotalAmt < 15'), 'Invoice').length, 1);
    const future = await q("select * from Customer where MetaData.LastUpdatedTime > '2099-01-01T00:00:00-07:00'");
    assert.deepEqual(future.body.QueryResponse, {});
    const past = await q(
      "select * from Customer where MetaData.LastUpdatedTime >= '2020-01-01T00:00:00Z' MAXRESULTS 3",
    );
    assert.equal(rows(past, 'Customer').length, 3);
    assert.equal(
      rows(
        await q(
          "select * from Invoice where CustomerRef = '" +
            String(rows(await q("select * from Customer where DisplayName = 'Invoice Target'"), 'Customer')[0]!.Id) +
            "'",
        ),
        'Invoice',
      ).length,
      3,
    );
  });

  it('finds customers by email, case-insensitively, and follows email changes', async () => {
    const hit = rows(await q("select * from Customer where PrimaryEmailAddr = 'CARS@example.com'"), 'Customer');
    assert.deepEqual(
      hit.map((c) => c.DisplayName),
      ['Cool Cars'],
    );
    const car = hit[0]!;
    await sb.api('POST', 'customer', {
      Id: car.Id,
      SyncToken: car.SyncToken,
      sparse: true,
      PrimaryEmailAddr: { Address: 'fast@example.com' },
    });
    assert.equal(
      rows(await q("select * from Customer where PrimaryEmailAddr = 'cars@example.com'"), 'Customer').length,
      0,
    );
    assert.equal(
      rows(await q("select * from Customer where PrimaryEmailAddr = 'fast@example.com'"), 'Customer').length,
      1,
    );
  });

  it('finds transactions by DocNumber and lists by Name', async () => {
    const all = rows(await q('select * from Invoice orderby DocNumber'), 'Invoice');
    const doc = String(all[1]!.DocNumber);
    const hit = rows(await q(`select * from Invoice where DocNumber = '${doc}'`), 'Invoice');
    assert.deepEqual(
      hit.map((i) => i.Id),
      [all[1]!.Id],
    );
    assert.equal(rows(await q("select * from Item where Name = 'widget service'"), 'Item').length, 1);
    assert.equal(rows(await q("select * from Customer where Id = '1'"), 'Customer').length, 1);
  });

  it('hides inactive name-list records unless the query asks for them', async () => {
    assert.equal(rows(await q("select * from Customer where DisplayName like 'Retired%'"), 'Customer').length, 0);
    assert.equal(
      rows(await q("select * from Customer where DisplayName like 'Retired%' and Active IN (true, false)"), 'Customer')
        .length,
      1,
    );
    assert.equal(rows(await q('select * from Customer where Active = false'), 'Customer').length, 1);
  });

  it('pages with STARTPOSITION (1-based) and MAXRESULTS, maxResults = number returned, default 100 and max 1000', async () => {
    const page = await q(
      "select * from Customer where DisplayName like 'Bulk%' ORDERBY DisplayName DESC STARTPOSITION 3 MAXRESULTS 5",
    );
    const list = rows(page, 'Customer');
    assert.deepEqual(
      list.map((c) => c.DisplayName),
      ['Bulk 10', 'Bulk 09', 'Bulk 08', 'Bulk 07', 'Bulk 06'],
    );
    assert.equal((page.body.QueryResponse as Json).startPosition, 3);
    assert.equal((page.body.QueryResponse as Json).maxResults, 5);
    const tail = await q("select * from Customer where DisplayName like 'Bulk%' startposition 11 maxresults 1000");
    assert.equal((tail.body.QueryResponse as Json).maxResults, 2);
    const asc = await q("select * from customer where DisplayName like 'Bulk%' orderby DisplayName");
    assert.equal(rows(asc, 'Customer')[0]!.DisplayName, 'Bulk 01');
  });

  it('counts with COUNT(*) and answers {} when nothing matches', async () => {
    const count = await q("SELECT COUNT(*) FROM Customer WHERE DisplayName LIKE 'Bulk%'");
    assert.deepEqual(count.body.QueryResponse, { totalCount: 12 });
    const lower = await q('select count(*) from invoice');
    assert.deepEqual(lower.body.QueryResponse, { totalCount: 3 });
    const none = await q("select * from Customer where DisplayName = 'Nobody At All'");
    assert.equal(none.status, 200);
    assert.deepEqual(none.body.QueryResponse, {});
    assert.ok(none.body.time);
  });

  it('accepts POST with Content-Type application/text', async () => {
    const answer = await sb.api('POST', 'query', undefined, {
      raw: "select * from Customer where DisplayName = 'Cool Cars'",
      contentType: 'application/text',
    });
    assert.equal(answer.status, 200);
    assert.equal(rows(answer, 'Customer').length, 1);
  });

  it('answers 4000 for malformed queries and 4001 for invalid ones', async () => {
    for (const bad of [
      'select * form Customer',
      "select * from Customer where DisplayName = 'open",
      "select * from Customer where DisplayName = 'a' or DisplayName = 'b'",
      'select * from Customer where',
      'delete from Customer',
    ]) {
      const answer = await q(bad);
      assert.equal(answer.status, 400, bad);
      assert.equal(fault(answer).code, '4000', bad);
    }
    assert.equal(fault(await q('select * from Customer where ShoeSize = 5')).code, '4001');
    assert.equal(fault(await q('select * from Customer startposition 0')).code, '4001');
    assert.equal(fault(await q('select * from Spaceship')).code, '4001');
  });

  it('selects listed fields only', async () => {
    const answer = await q("select DisplayName from Customer where DisplayName = 'Cool Cars'");
    const row = rows(answer, 'Customer')[0]!;
    assert.equal(row.DisplayName, 'Cool Cars');
    assert.equal(row.PrimaryEmailAddr, undefined);
    assert.ok(row.Id);
  });
});
