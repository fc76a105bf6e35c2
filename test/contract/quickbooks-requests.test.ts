// Request contract: the calls ledgerlink's QuickBooks client makes, held against Intuit's own XSD schemas
// (vendor-specs/quickbooks/xsd, read here directly, not through the emulator's generated copy) and the request
// forms Intuit documents and its SDKs send. The client talks to the emulator through a recording proxy; each
// recorded write must name only properties its entity's XSD type declares (recursively), every request must carry
// minorversion, writes a requestid, and date-times in queries and CDC are whole seconds with a zone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findVendorSpecs } from '../../emulators/common/vendorSpecs.ts';
import { startQuickBooksEmulator, DEFAULT_APP, type QuickBooksEmulator } from '../../emulators/quickbooks/index.ts';
import { loadXsdDir, type XsdModel } from '../../emulators/quickbooks/schema/generate.ts';
import { QuickBooksClient } from '../../src/quickbooks/client.ts';
import { quickbooksRequestId } from '../../src/domain/requestId.ts';
import { InMemoryQuickBooksLimiter } from '../../src/quickbooks/limiter.ts';
import { select } from '../../src/quickbooks/query.ts';
import { startRecordingProxy, type RecordedRequest, type RecordingProxy } from './recordingProxy.ts';

const { dir: XSD_DIR, missing } = findVendorSpecs('quickbooks/xsd');

/** The properties a type accepts, through its XSD extension chain (`{value, name}` for simple-content references). */
function fieldsOf(model: XsdModel, type: string): Map<string, { type: string; many: boolean }> {
  const chain: string[] = [];
  for (let t: string | undefined = type; t && model.complexTypes[t]; t = model.complexTypes[t]!.base) chain.unshift(t);
  const fields = new Map<string, { type: string; many: boolean }>();
  for (const t of chain) {
    const ct = model.complexTypes[t]!;
    if (ct.simpleContent) fields.set('value', { type: 'string', many: false });
    for (const [name, info] of Object.entries(ct.fields)) fields.set(name, info);
  }
  return fields;
}

/** Properties of `value` that `type` does not declare, as paths. XSD attributes (sparse, domain, status) are keys in JSON. */
function undeclared(model: XsdModel, type: string, value: unknown, path: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !model.complexTypes[type]) return [];
  const fields = fieldsOf(model, type);
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const at = path ? `${path}.${key}` : key;
    const info = fields.get(key);
    if (!info) {
      if (!['sparse', 'domain', 'status', 'name', 'type'].includes(key)) problems.push(`${at}: not in ${type}`);
      continue;
    }
    for (const item of Array.isArray(child) ? child : [child]) problems.push(...undeclared(model, info.type, item, at));
  }
  return problems;
}

const DATE_TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})/g;

function problemsOf(model: XsdModel, types: Map<string, string>, r: RecordedRequest): string[] {
  const where = `${r.method} ${r.path}`;
  const problems: string[] = [];
  const m = /^\/v3\/company\/[^/]+\/(\w+)(?:\/([^/]+))?(?:\/(\w+))?$/.exec(r.path);
  if (!m) return [`${where}: not an Accounting API path`];
  const [, resource, , action] = m as unknown as [string, string, string | undefined, string | undefined];
  if (!r.query.minorversion || Number(r.query.minorversion) < 75)
    problems.push(`${where}: minorversion ${String(r.query.minorversion)} (Intuit ignores anything below 75)`);
  const allowed = new Set([
    'minorversion',
    'requestid',
    'operation',
    'include',
    'query',
    'entities',
    'changedSince',
    'sendTo',
  ]);
  for (const name of Object.keys(r.query)) if (!allowed.has(name)) problems.push(`${where}: query parameter ${name}`);
  if (r.method === 'POST' && !r.query.requestid && resource !== 'query')
    problems.push(`${where}: write without requestid`);
  for (const text of [r.query.query, r.query.changedSince, typeof r.body === 'string' ? r.body : undefined]) {
    if (!text) continue;
    for (const literal of text.match(/\d{4}-\d{2}-\d{2}T[^'\s,]*/g) ?? []) {
      if (!literal.match(DATE_TIME) || literal.replace(DATE_TIME, '') !== '')
        problems.push(`${where}: date-time ${literal} is not whole seconds with a zone`);
    }
  }
  if (r.method === 'POST' && r.body && typeof r.body === 'object') {
    if (resource === 'batch') {
      for (const item of (r.body as { BatchItemRequest?: Array<Record<string, unknown>> }).BatchItemRequest ?? []) {
        for (const [key, value] of Object.entries(item)) {
          if (['bId', 'operation', 'optionsData'].includes(key)) continue;
          if (key === 'Query') continue;
          if (!model.complexTypes[key]) problems.push(`${where}: batch item names ${key}, no XSD type`);
          else problems.push(...undeclared(model, key, value, key).map((p) => `${where}: ${p}`));
        }
      }
    } else if (!action) {
      const type = types.get(resource);
      if (!type) problems.push(`${where}: ${resource} is no XSD entity`);
      else problems.push(...undeclared(model, type, r.body, type).map((p) => `${where}: ${p}`));
    }
  }
  return problems;
}

let counter = 0;
const rid = (label: string): string =>
  quickbooksRequestId({
    connectionId: 'contract',
    flow: label,
    sourceId: String(process.pid),
    sourceVersion: `${Date.now()}.${(counter += 1)}`,
  });

describe("QuickBooks client requests fit the XSDs and Intuit's request forms", { skip: missing }, () => {
  let emu: QuickBooksEmulator;
  let proxy: RecordingProxy;
  let client: QuickBooksClient;
  let model: XsdModel;
  const types = new Map<string, string>();

  before(async () => {
    model = loadXsdDir(XSD_DIR);
    for (const name of Object.keys(model.complexTypes)) types.set(name.toLowerCase(), name);
    emu = await startQuickBooksEmulator();
    proxy = await startRecordingProxy(emu.url);
    const admin = async <T>(path: string, body: unknown): Promise<T> =>
      (await (
        await fetch(`${emu.url}/_emulator${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json()) as T;
    const { realmId } = await admin<{ realmId: string }>('/companies', { country: 'US' });
    const minted = await admin<{ access_token: string }>('/tokens', { realmId });
    void DEFAULT_APP;
    client = new QuickBooksClient({
      baseUrl: proxy.url,
      realmId,
      limiter: new InMemoryQuickBooksLimiter(),
      retry: { baseDelayMs: 10, maxDelayMs: 100 },
      tokens: {
        accessToken: async () => minted.access_token,
        refreshAfterUnauthorized: async () => minted.access_token,
      },
    });
  });
  after(async () => {
    await proxy.close();
    await emu.close();
  });

  it('every client call, as sent, is one Intuit documents', async () => {
    await client.companyInfo();
    await client.preferences();
    const income = await client.query(select('Account').where('AccountType', '=', 'Income'));
    const item = await client.create(
      'Item',
      { Name: 'Contract hour', Type: 'Service', IncomeAccountRef: { value: income[0]!.Id }, UnitPrice: 12.5 },
      { requestId: rid('item') },
    );
    const customer = await client.create(
      'Customer',
      {
        DisplayName: 'Contract Person',
        PrimaryEmailAddr: { Address: 'contract@example.com' },
        BillAddr: { Line1: '1 Spec St', City: 'Austin' },
      },
      { requestId: rid('customer') },
    );
    await client.update(
      'Customer',
      { Id: customer.Id, SyncToken: customer.SyncToken, GivenName: 'Contract' },
      { requestId: rid('customer-update') },
    );
    await client.findCustomersByEmail('contract@example.com', { fallback: 'scan-on-miss' });
    const line = {
      Amount: 25,
      DetailType: 'SalesItemLineDetail' as const,
      SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 2, UnitPrice: 12.5 },
    };
    const receipt = await client.create(
      'SalesReceipt',
      { CustomerRef: { value: customer.Id }, Line: [line], PrivateNote: 'HighLevel payment t1' },
      { requestId: rid('receipt') },
    );
    await client.read('SalesReceipt', receipt.Id);
    const invoice = await client.create(
      'Invoice',
      { CustomerRef: { value: customer.Id }, Line: [line], DocNumber: 'INV-9' },
      { requestId: rid('invoice') },
    );
    await client.sendInvoice(invoice.Id, { requestId: rid('send'), sendTo: 'contract@example.com' });
    const again = await client.read('Invoice', invoice.Id);
    await client.void('Invoice', again, { requestId: rid('void') });
    const doomed = await client.create(
      'Invoice',
      { CustomerRef: { value: customer.Id }, Line: [line] },
      { requestId: rid('doomed') },
    );
    await client.delete('Invoice', doomed, { requestId: rid('delete') });
    const since = new Date(Date.now() - 3_600_000);
    await client.query(select('Invoice').where('MetaData.LastUpdatedTime', '>=', since));
    await client.changedSince(['Customer', 'Invoice', 'Payment'], since);
    await client.batch(
      [{ bId: 'b1', operation: 'create', entity: 'Customer', body: { DisplayName: 'Batch Person' } }],
      { requestId: rid('batch') },
    );

    assert.ok(proxy.requests.length >= 15, `${proxy.requests.length} requests recorded`);
    const problems = proxy.requests.flatMap((r) => problemsOf(model, types, r));
    assert.deepEqual([...new Set(problems)], []);
  });

  it('catches an undeclared property and a millisecond date-time (the check itself can fail)', () => {
    const write: RecordedRequest = {
      method: 'POST',
      path: '/v3/company/1/payment',
      query: { minorversion: '75', requestid: 'x', operation: 'update' },
      headers: {},
      contentType: 'application/json',
      body: { Id: '1', SyncToken: '0', sparse: true, Line: [{ Amount: 1, LinkedTxn: [], Bogus: true }] },
    };
    assert.deepEqual(problemsOf(model, types, write), ['POST /v3/company/1/payment: Payment.Line.Bogus: not in Line']);
    const query: RecordedRequest = {
      method: 'GET',
      path: '/v3/company/1/cdc',
      query: { minorversion: '75', entities: 'Customer', changedSince: '2026-01-02T03:04:05.000Z' },
      headers: {},
      contentType: '',
      body: undefined,
    };
    assert.deepEqual(problemsOf(model, types, query), [
      'GET /v3/company/1/cdc: date-time 2026-01-02T03:04:05.000Z is not whole seconds with a zone',
    ]);
  });
});
