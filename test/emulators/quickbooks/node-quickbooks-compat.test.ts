// Drives the emulator the way node-quickbooks 2.0.49 does on the wire (reference §8.2): endpoint + realmId + path,
// `format=json&minorversion=75` on every call, lowercase query keywords and entity names with hand-made percent
// encoding, `?operation=update` with sparse:true, void through `?operation=void` (invoice) or update+include=void
// (payment), `include=allowduplicatedocnum`, `requestid` from a requestId property, and a random Request-Id header.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Json, Sandbox } from './helpers.ts';
import { createServiceItem, startSandbox } from './helpers.ts';

/** node-quickbooks' own escaping of query text (it does not use encodeURIComponent). */
function nqbEncode(text: string): string {
  return text
    .replace(/%/g, '%25')
    .replace(/'/g, '%27')
    .replace(/=/g, '%3D')
    .replace(/</g, '%3C')
    .replace(/>/g, '%3E')
    .replace(/&/g, '%26')
    .replace(/#/g, '%23')
    .replace(/\\/g, '%5C')
    .replace(/\+/g, '%2B');
}

class NodeQuickBooksWire {
  constructor(
    private readonly endpoint: string,
    private readonly realmId: string,
    private readonly token: string,
  ) {}

  async request(
    verb: 'get' | 'post',
    path: string,
    entity?: Json,
    extraParams: Record<string, string> = {},
  ): Promise<Json> {
    const body = entity ? { ...entity } : undefined;
    const params: string[] = [];
    for (const [k, v] of Object.entries(extraParams)) params.push(`${k}=${v}`);
    if (body && typeof body.requestId === 'string') {
      params.push(`requestid=${body.requestId}`);
      delete body.requestId;
    }
    if (body?.allowDuplicateDocNum) {
      params.push('include=allowduplicatedocnum');
      delete body.allowDuplicateDocNum;
    }
    params.push('format=json', 'minorversion=75');
    let url = this.endpoint + this.realmId + path;
    url += (url.includes('?') ? '&' : '?') + params.join('&');
    const response = await fetch(url, {
      method: verb.toUpperCase(),
      headers: {
        Authorization: `Bearer ${this.token}`,
        Accept: 'application/json',
        'Content-Type': path.endsWith('/send') ? 'application/octet-stream' : 'application/json',
        'User-Agent': 'node-quickbooks: version 2.0.49',
        'Request-Id': randomUUID(),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await response.json()) as Json;
    return { ...json, __status: response.status };
  }

  create(entityName: string, entity: Json): Promise<Json> {
    return this.request('post', `/${entityName.toLowerCase()}`, entity);
  }

  update(entityName: string, entity: Json): Promise<Json> {
    const body = entity.sparse === undefined ? { ...entity, sparse: true } : entity;
    return this.request('post', `/${entityName.toLowerCase()}?operation=update`, body);
  }

  query(entityName: string, criteria: string, start = 1, limit = 1000): Promise<Json> {
    const text =
      `select * from ${entityName.toLowerCase()} ${criteria} startposition ${start} maxresults ${limit}`.replace(
        /\s+/g,
        ' ',
      );
    return this.request('get', `/query?query=${nqbEncode(text)}`);
  }

  /** fetchAll: keep paging while a page is full (maxResults === limit). */
  async findAll(entityName: string, criteria: string, limit: number): Promise<Json[]> {
    const all: Json[] = [];
    for (let start = 1; ; start += limit) {
      const page = (await this.query(entityName, criteria, start, limit)).QueryResponse as Json;
      const rows = (page[entityName] as Json[] | undefined) ?? [];
      all.push(...rows);
      if (page.maxResults !== limit) return all;
    }
  }
}

describe('node-quickbooks wire compatibility', () => {
  let sb: Sandbox;
  let nqb: NodeQuickBooksWire;
  let itemId: string;

  before(async () => {
    sb = await startSandbox();
    // QuickBooks.V3_ENDPOINT_BASE_URL = 'http://127.0.0.1:PORT/v3/company/' (trailing slash kept).
    nqb = new NodeQuickBooksWire(`${sb.emulator.url}/v3/company/`, sb.realmId, sb.accessToken);
    itemId = String((await createServiceItem(sb, 'NQB Service', 40)).Id);
  });
  after(() => sb.close());

  it('creates, finds with lowercase queries and hand-escaped quotes, and pages with fetchAll', async () => {
    const created = await nqb.create('Customer', {
      DisplayName: "Amy's Bird Sanctuary",
      PrimaryEmailAddr: { Address: 'amy+birds@example.com' },
    });
    assert.equal(created.__status, 200);
    const found = await nqb.query('Customer', "where DisplayName = 'Amy\\'s Bird Sanctuary'");
    assert.equal(((found.QueryResponse as Json).Customer as Json[])[0]!.Id, (created.Customer as Json).Id);
    const byEmail = await nqb.query('Customer', "where PrimaryEmailAddr = 'amy+birds@example.com'");
    assert.equal(((byEmail.QueryResponse as Json).Customer as Json[]).length, 1);
    for (let i = 0; i < 7; i++) await nqb.create('Customer', { DisplayName: `Paged ${i}` });
    const all = await nqb.findAll('Customer', "where DisplayName like 'Paged%'", 3);
    assert.equal(all.length, 7);
    const count = await nqb.request('get', `/query?query=${nqbEncode('select count(*) from customer')}`);
    assert.equal((count.QueryResponse as Json).totalCount, 8);
  });

  it('updates with ?operation=update and sparse:true, and surfaces a stale SyncToken as a Fault body', async () => {
    const created = (await nqb.create('Customer', { DisplayName: 'Sparse Sam', Notes: 'keep me' })).Customer as Json;
    const updated = await nqb.update('Customer', {
      Id: created.Id,
      SyncToken: created.SyncToken,
      CompanyName: 'Sam Co',
    });
    assert.equal((updated.Customer as Json).Notes, 'keep me');
    assert.equal((updated.Customer as Json).CompanyName, 'Sam Co');
    const stale = await nqb.update('Customer', { Id: created.Id, SyncToken: created.SyncToken, CompanyName: 'Late' });
    assert.equal(((stale.Fault as Json).Error as Json[])[0]!.code, '5010');
  });

  it('voids an invoice with ?operation=void and a payment with update+include=void; duplicates doc numbers only when allowed', async () => {
    const customer = (await nqb.create('Customer', { DisplayName: 'Void Victor' })).Customer as Json;
    const line = [
      { Amount: 40, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: itemId } } },
    ];
    const invoice = (
      await nqb.create('Invoice', { DocNumber: 'NQB-1', CustomerRef: { value: customer.Id }, Line: line })
    ).Invoice as Json;
    const dup = await nqb.create('Invoice', { DocNumber: 'NQB-1', CustomerRef: { value: customer.Id }, Line: line });
    assert.equal(((dup.Fault as Json).Error as Json[])[0]!.code, '6140');
    const allowed = await nqb.create('Invoice', {
      DocNumber: 'NQB-1',
      CustomerRef: { value: customer.Id },
      Line: line,
      allowDuplicateDocNum: true,
    });
    assert.equal((allowed.Invoice as Json).DocNumber, 'NQB-1');
    const payment = (
      await nqb.create('Payment', {
        CustomerRef: { value: customer.Id },
        TotalAmt: 40,
        Line: [{ Amount: 40, LinkedTxn: [{ TxnId: (allowed.Invoice as Json).Id, TxnType: 'Invoice' }] }],
      })
    ).Payment as Json;
    const voidedPayment = await nqb.request('post', '/payment?operation=update&include=void', {
      Id: payment.Id,
      SyncToken: payment.SyncToken,
      sparse: true,
    });
    assert.equal((voidedPayment.Payment as Json).PrivateNote, 'Voided');
    const voidedInvoice = await nqb.request('post', '/invoice?operation=void', {
      Id: invoice.Id,
      SyncToken: invoice.SyncToken,
    });
    assert.equal((voidedInvoice.Invoice as Json).TotalAmt, 0);
    const sent = await nqb.request(
      'post',
      `/invoice/${String((allowed.Invoice as Json).Id)}/send?sendTo=victor@example.com`,
    );
    assert.equal((sent.Invoice as Json).EmailStatus, 'EmailSent');
  });

  it('passes requestid from a requestId property: a retried create returns the first answer', async () => {
    const first = await nqb.create('Vendor', { DisplayName: 'Retry Vendor', requestId: 'nqb-req-1' });
    const second = await nqb.create('Vendor', { DisplayName: 'Retry Vendor', requestId: 'nqb-req-1' });
    assert.deepEqual(second, first);
    const info = await nqb.request('get', `/companyinfo/${sb.realmId}`);
    assert.equal((info.CompanyInfo as Json).Country, 'US');
  });
});
