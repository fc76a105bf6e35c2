// The QuickBooks client's lists for the mapping screen (deposit and income accounts, sale items, classes,
// locations, payment methods) against the emulator over real HTTP: active records only, ordered by Name, every
// page, narrowed by part of the name; and the Preferences switches that say whether classes and locations apply.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type QuickBooksEmulator, startQuickBooksEmulator } from '../../emulators/quickbooks/index.ts';
import { QuickBooksClient } from '../../src/quickbooks/client.ts';
import type { TokenSource } from '../../src/quickbooks/http.ts';
import { quickbooksRequestId } from '../../src/domain/requestId.ts';
import { InMemoryQuickBooksLimiter } from '../../src/quickbooks/limiter.ts';

async function admin<T>(emu: QuickBooksEmulator, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${emu.url}/_emulator${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

let counter = 0;
const rid = (label: string): string =>
  quickbooksRequestId({
    connectionId: 'lists',
    flow: label,
    sourceId: String(process.pid),
    sourceVersion: `${Date.now()}.${(counter += 1)}`,
  });
const names = (rows: Array<{ Name: string }>): string[] => rows.map((r) => r.Name);
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

describe('QuickBooks client: lists a bookkeeper maps to', () => {
  let emu: QuickBooksEmulator;
  let client: QuickBooksClient;
  let realmId: string;

  before(async () => {
    emu = await startQuickBooksEmulator({ limits: false });
    ({ realmId } = await admin<{ realmId: string }>(emu, 'POST', '/companies', { country: 'US', sampleData: true }));
    const { access_token } = await admin<{ access_token: string }>(emu, 'POST', '/tokens', { realmId });
    const tokens: TokenSource = {
      accessToken: async () => access_token,
      refreshAfterUnauthorized: async () => access_token,
    };
    client = new QuickBooksClient({
      baseUrl: emu.url,
      realmId,
      tokens,
      limiter: new InMemoryQuickBooksLimiter(),
      retry: { baseDelayMs: 10, maxDelayMs: 100 },
    });
  });
  after(async () => {
    await emu.close();
  });

  it('lists deposit accounts: banks and other current assets, Undeposited Funds among them, active only, by name', async () => {
    const closed = await client.create(
      'Account',
      { Name: 'Old savings', AccountType: 'Bank' },
      { requestId: rid('old-savings') },
    );
    await client.deactivate('Account', closed, { requestId: rid('deactivate-savings') });
    const accounts = await client.listDepositAccounts();
    assert.ok(accounts.length >= 3);
    for (const a of accounts) assert.ok(['Bank', 'Other Current Asset'].includes(a.AccountType ?? ''), a.Name);
    assert.ok(names(accounts).includes('Undeposited Funds'));
    assert.ok(names(accounts).includes('Checking'));
    assert.ok(!names(accounts).some((n) => n.startsWith('Old savings')));
    assert.deepEqual(names(accounts), [...names(accounts)].sort(byName));
  });

  it('lists income accounts and sale items with their income account', async () => {
    const income = await client.listIncomeAccounts();
    assert.ok(names(income).includes('Services'));
    assert.ok(names(income).includes('Landscaping Services'));
    for (const a of income) assert.ok(['Income', 'Other Income'].includes(a.AccountType ?? ''), a.Name);
    const items = await client.listSaleItems();
    assert.deepEqual(names(items), [...names(items)].sort(byName));
    const gardening = items.find((i) => i.Name === 'Gardening');
    assert.equal(gardening?.Type, 'Service');
    assert.equal(gardening?.IncomeAccountRef?.name, 'Landscaping Services');
    assert.ok(names(items).includes('Services'));
  });

  it('searches by part of the name, whatever its case, and with a quote in it', async () => {
    const found = await client.listSaleItems({ search: 'control' });
    assert.deepEqual(names(found), ['Pest Control']);
    await client.create(
      'PaymentMethod',
      { Name: "Client's cheque", Type: 'NON_CREDIT_CARD' },
      { requestId: rid('pm-quote') },
    );
    assert.deepEqual(names(await client.listPaymentMethods({ search: "t's ch" })), ["Client's cheque"]);
    assert.deepEqual(names(await client.listDepositAccounts({ search: 'undeposited' })), ['Undeposited Funds']);
    assert.deepEqual(await client.listClasses({ search: 'no such class' }), []);
    // A blank search is no filter.
    assert.equal(
      (await client.listPaymentMethods({ search: '  ' })).length,
      (await client.listPaymentMethods()).length,
    );
  });

  it('lists classes with their full names, locations, and payment methods', async () => {
    const classes = await client.listClasses();
    assert.deepEqual(names(classes), ['Design', 'Landscaping', 'Maintenance']);
    const design = classes.find((c) => c.Name === 'Design');
    assert.equal(design?.SubClass, true);
    assert.equal(design?.FullyQualifiedName, 'Landscaping:Design');
    const made = await client.create('Department', { Name: 'East' }, { requestId: rid('dept-east') });
    assert.equal(made.FullyQualifiedName, 'East');
    assert.deepEqual(names(await client.listDepartments()), ['East', 'North', 'South']);
    const methods = await client.listPaymentMethods();
    assert.ok(names(methods).includes('Visa'));
    assert.equal(methods.find((m) => m.Name === 'Visa')?.Type, 'CREDIT_CARD');
  });

  it('reads every page when a list is longer than one page', async () => {
    for (let i = 0; i < 7; i++)
      await client.create('Class', { Name: `Segment ${i}` }, { requestId: rid(`segment-${i}`) });
    const whole = await client.listClasses();
    assert.equal(whole.length, 10);
    const before = emu.admin.limits.counts.get(realmId)?.calls ?? 0;
    const paged = await client.listClasses({ pageSize: 3 });
    const calls = (emu.admin.limits.counts.get(realmId)?.calls ?? 0) - before;
    assert.deepEqual(
      paged.map((c) => c.Id),
      whole.map((c) => c.Id),
    );
    assert.equal(calls, 4, 'ten rows at three a page: four requests, the last one short');
  });

  it('reads the tracking switches from Preferences', async () => {
    let prefs = await client.preferences();
    assert.equal(prefs.AccountingInfoPrefs?.ClassTrackingPerTxn, false);
    assert.equal(prefs.AccountingInfoPrefs?.ClassTrackingPerTxnLine, false);
    assert.equal(prefs.AccountingInfoPrefs?.TrackDepartments, false);
    await admin(emu, 'PATCH', `/companies/${realmId}`, { classTrackingPerTxnLine: true, trackDepartments: true });
    prefs = await client.preferences();
    assert.equal(prefs.AccountingInfoPrefs?.ClassTrackingPerTxnLine, true);
    assert.equal(prefs.AccountingInfoPrefs?.TrackDepartments, true);
    assert.equal(prefs.AccountingInfoPrefs?.DepartmentTerminology, 'Location');
  });
});
