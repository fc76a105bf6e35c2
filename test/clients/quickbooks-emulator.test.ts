// The QuickBooks client against the local QuickBooks emulator over real HTTP: arrange through the
// emulator's admin API, act through the client, assert on what the emulator holds or sent.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startQuickBooksEmulator, DEFAULT_APP, type QuickBooksEmulator } from '../../emulators/quickbooks/index.ts';
import { QuickBooksClient } from '../../src/quickbooks/client.ts';
import { isDuplicateName, isInvalidId, isNotFound, isStaleObject } from '../../src/quickbooks/errors.ts';
import { quickbooksRequestId } from '../../src/domain/requestId.ts';
import type { TokenSource } from '../../src/quickbooks/http.ts';
import { InMemoryQuickBooksLimiter } from '../../src/quickbooks/limiter.ts';
import { QuickBooksOAuth } from '../../src/quickbooks/oauth.ts';
import { count, select } from '../../src/quickbooks/query.ts';
import { parseQuickBooksWebhook, verifyIntuitSignature } from '../../src/quickbooks/webhooks.ts';
import { startScriptedServer, type ScriptedServer } from './scriptedServer.ts';

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

/** Tokens in memory, refreshed through the emulator's real token endpoint. */
class EmulatorTokens implements TokenSource {
  refreshes = 0;
  constructor(
    private access: string,
    private refresh: string,
    private readonly oauth: QuickBooksOAuth,
  ) {}
  async accessToken(): Promise<string> {
    return this.access;
  }
  async refreshAfterUnauthorized(): Promise<string> {
    this.refreshes += 1;
    const t = await this.oauth.refresh(this.refresh);
    this.access = t.accessToken;
    this.refresh = t.refreshToken;
    return this.access;
  }
  get current(): string {
    return this.access;
  }
}

let counter = 0;
const rid = (label: string): string =>
  quickbooksRequestId({
    connectionId: 'test',
    flow: label,
    sourceId: String(process.pid),
    sourceVersion: `${Date.now()}.${(counter += 1)}`,
  });

describe('QuickBooks client against the emulator', () => {
  let emu: QuickBooksEmulator;
  let client: QuickBooksClient;
  let tokens: EmulatorTokens;
  let realmId: string;
  const startedAt = new Date(Date.now() - 60_000);

  before(async () => {
    emu = await startQuickBooksEmulator();
    ({ realmId } = await admin<{ realmId: string }>(emu, 'POST', '/companies', { country: 'US' }));
    const minted = await admin<{ access_token: string; refresh_token: string }>(emu, 'POST', '/tokens', { realmId });
    const oauth = new QuickBooksOAuth({
      clientId: DEFAULT_APP.clientId,
      clientSecret: DEFAULT_APP.clientSecret,
      redirectUri: 'http://localhost/cb',
      endpoints: {
        authorizeUrl: `${emu.url}/connect/oauth2`,
        tokenUrl: `${emu.url}/oauth2/v1/tokens/bearer`,
        revokeUrl: `${emu.url}/v2/oauth2/tokens/revoke`,
      },
    });
    tokens = new EmulatorTokens(minted.access_token, minted.refresh_token, oauth);
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

  it("finds O'Brien (and a backslash) by an escaped query, round trip", async () => {
    const name = "Siobhan O'Brien \\ Sons";
    const created = await client.create(
      'Customer',
      { DisplayName: name, PrimaryEmailAddr: { Address: 'Siobhan@Example.com' } },
      { requestId: rid('obrien') },
    );
    const found = await client.query(select('Customer').where('DisplayName', '=', name));
    assert.deepEqual(
      found.map((c) => c.Id),
      [created.Id],
    );
    assert.equal(found[0]?.DisplayName, name);
    const like = await client.query(select('Customer').whereLike('DisplayName', "%O'Brien%"));
    assert.ok(like.some((c) => c.Id === created.Id));
    const byEmail = await client.findCustomersByEmail('siobhan@example.com', { fallback: 'scan-on-miss' });
    assert.deepEqual(
      byEmail.map((c) => c.Id),
      [created.Id],
    );
  });

  it('replays a repeated requestid instead of creating a second customer', async () => {
    const requestId = rid('replay');
    const first = await client.create('Customer', { DisplayName: 'Replay Ltd' }, { requestId });
    const second = await client.create('Customer', { DisplayName: 'Replay Ltd' }, { requestId });
    assert.equal(second.Id, first.Id);
    const all = await client.query(select('Customer').where('DisplayName', '=', 'Replay Ltd').includeInactive());
    assert.equal(all.length, 1);
  });

  it('types a duplicate DisplayName as 6240 and a stale SyncToken as 5010', async () => {
    const c = await client.create('Customer', { DisplayName: 'Clash Co' }, { requestId: rid('clash') });
    await assert.rejects(
      client.create('Customer', { DisplayName: 'Clash Co' }, { requestId: rid('clash2') }),
      (e: unknown) => isDuplicateName(e),
    );
    const updated = await client.update(
      'Customer',
      { Id: c.Id, SyncToken: c.SyncToken, GivenName: 'Cla' },
      { requestId: rid('upd') },
    );
    assert.equal(updated.SyncToken, String(Number(c.SyncToken) + 1));
    await assert.rejects(
      client.update('Customer', { Id: c.Id, SyncToken: c.SyncToken, GivenName: 'Old' }, { requestId: rid('stale') }),
      (e: unknown) => isStaleObject(e),
    );
  });

  it('refreshes an expired access token once and carries on', async () => {
    const before = tokens.current;
    // Access tokens live an hour; revoking one would disconnect the whole grant, as at Intuit.
    await admin(emu, 'POST', '/clock/advance', { hours: 2 });
    const info = await client.companyInfo();
    assert.equal(info.Country, 'US');
    assert.equal(tokens.refreshes, 1);
    assert.notEqual(tokens.current, before);
    const prefs = await client.preferences();
    assert.ok(prefs.Id);
  });

  it('retries through injected 429s', async () => {
    await admin(emu, 'PUT', '/faults', { rules: [{ kind: 'error429', rate: 1, count: 2, path: '/companyinfo' }] });
    const info = await client.companyInfo();
    assert.ok(info.CompanyName);
    await admin(emu, 'DELETE', '/faults');
  });

  it('creates, sends, voids and deletes invoices; CDC reports the change and the deletion', async () => {
    const income = await client.query(select('Account').where('AccountType', '=', 'Income').maxResults(1));
    assert.ok(income[0], 'the seeded company has an income account');
    const item = await client.create(
      'Item',
      { Name: 'Consulting hour', Type: 'Service', IncomeAccountRef: { value: income[0].Id }, UnitPrice: 12.1 },
      { requestId: rid('item') },
    );
    const customer = await client.create(
      'Customer',
      { DisplayName: 'Invoice Person', PrimaryEmailAddr: { Address: 'inv@example.com' } },
      { requestId: rid('cust') },
    );
    const line = {
      Amount: 36.3,
      DetailType: 'SalesItemLineDetail',
      SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 3, UnitPrice: 12.1 },
    };
    const kept = await client.create(
      'Invoice',
      { CustomerRef: { value: customer.Id }, Line: [line] },
      { requestId: rid('inv1') },
    );
    assert.equal(kept.TotalAmt, 36.3);
    const sent = await client.sendInvoice(kept.Id, { requestId: rid('send'), sendTo: 'inv@example.com' });
    assert.equal(sent.EmailStatus, 'EmailSent');
    const voided = await client.void('Invoice', sent, { requestId: rid('void') });
    assert.equal(voided.TotalAmt, 0);
    const doomed = await client.create(
      'Invoice',
      { CustomerRef: { value: customer.Id }, Line: [line] },
      { requestId: rid('inv2') },
    );
    const stub = await client.delete('Invoice', doomed, { requestId: rid('del') });
    assert.equal(stub.status, 'Deleted');
    await assert.rejects(client.read('Invoice', doomed.Id), (e: unknown) => isNotFound(e));
    // A malformed id is 2030, never "not found": nothing may treat it as a deletion.
    await assert.rejects(client.read('Customer', '1.5'), (e: unknown) => isInvalidId(e) && !isNotFound(e));

    const changes = await client.changedSince(['Customer', 'Invoice'], startedAt);
    assert.ok(changes.changed.some((c) => c.entity === 'Invoice' && c.value.Id === kept.Id));
    assert.ok(changes.changed.some((c) => c.entity === 'Customer' && c.value.Id === customer.Id));
    assert.deepEqual(
      changes.deleted.filter((d) => d.entity === 'Invoice').map((d) => d.id),
      [doomed.Id],
    );
    assert.ok(changes.time);
  });

  it('runs 35 creates as two batches and maps each result by bId', async () => {
    const items = Array.from({ length: 35 }, (_, i) => ({
      bId: `n${i}`,
      operation: 'create' as const,
      entity: 'Customer' as const,
      body: { DisplayName: `Batch Person ${i}` },
    }));
    items.push({ bId: 'dup', operation: 'create', entity: 'Customer', body: { DisplayName: 'Clash Co' } });
    const results = await client.batch(items, { requestId: rid('batch') });
    assert.equal(results.size, 36);
    const dup = results.get('dup');
    assert.ok(dup && !dup.ok && isDuplicateName(dup.error));
    const n34 = results.get('n34');
    assert.ok(n34?.ok && 'entity' in n34 && n34.entity === 'Customer');
  });

  it('streams a query page by page', async () => {
    const pages: number[] = [];
    const names = new Set<string>();
    for await (const page of client.queryPages(
      select('Customer').whereLike('DisplayName', 'Batch Person%').orderBy('Id'),
      10,
    )) {
      pages.push(page.length);
      for (const c of page) names.add(c.DisplayName);
    }
    assert.deepEqual(pages, [10, 10, 10, 5]);
    assert.equal(names.size, 35);
    assert.equal(await client.count(count('Customer').whereLike('DisplayName', 'Batch Person%')), 35);
  });

  it('sends a long IN query as a POST body', async () => {
    const [one] = await client.query(select('Customer').where('DisplayName', '=', 'Batch Person 7'));
    assert.ok(one);
    const ids = [...Array.from({ length: 400 }, (_, i) => String(900000 + i)), one.Id];
    const found = await client.query(select('Customer').whereIn('Id', ids));
    assert.deepEqual(
      found.map((c) => c.Id),
      [one.Id],
    );
  });

  describe('webhooks', () => {
    let receiver: ScriptedServer;
    const verifier = 'verifier-token-for-tests';
    before(async () => {
      receiver = await startScriptedServer(() => ({ status: 200, body: '' }));
    });
    after(async () => {
      await receiver.close();
    });

    for (const format of ['legacy', 'cloudevents'] as const) {
      it(`verifies and parses a ${format} delivery, and refuses a forged one`, async () => {
        receiver.requests.length = 0;
        await admin(emu, 'PUT', '/webhooks', {
          url: `${receiver.url}/hooks/qbo`,
          verifierToken: verifier,
          format,
          windowMs: 0,
        });
        const c = await client.create(
          'Customer',
          { DisplayName: `Webhook ${format}` },
          { requestId: rid(`wh-${format}`) },
        );
        await admin(emu, 'POST', '/webhooks/flush');
        const delivery = receiver.requests.find((r) =>
          parseQuickBooksWebhook(r.body).some((e) => e.entity === 'Customer' && e.entityId === c.Id),
        );
        assert.ok(delivery, `no delivery for customer ${c.Id} among ${receiver.requests.length}`);
        const signature = String(delivery.headers['intuit-signature'] ?? '');
        assert.equal(verifyIntuitSignature(delivery.body, signature, verifier), true);
        assert.equal(verifyIntuitSignature(delivery.body, signature, 'wrong-verifier'), false);
        assert.equal(verifyIntuitSignature(`${delivery.body} `, signature, verifier), false);
        const event = parseQuickBooksWebhook(delivery.body).find((e) => e.entityId === c.Id);
        assert.equal(event?.realmId, realmId);
        assert.equal(event?.operation, 'Create');
        assert.ok(event?.eventId);
      });
    }
  });
});
