// The dashboard's JSON API over real HTTP, against both emulators and a real store (startStack).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { buildServer } from '../../src/server/app.ts';
import { hashPassword, verifyPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { countLinks, findLinkByCrmId } from '../../src/store/links.ts';
import { listActivity, recordActivity } from '../../src/store/activity.ts';

const PASSWORD = 'correct horse battery staple';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

describe('dashboard API', () => {
  let stack: Stack;
  let url: string;
  let cookie: string;

  // `as`: the cookie to send; null sends none (undefined would fall back to the default).
  const call = async (method: string, path: string, body?: unknown, as: string | null = cookie) => {
    const response = await fetch(`${url}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...(as ? { cookie: as } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return {
      status: response.status,
      json: json as Record<string, unknown> & Array<unknown>,
      headers: response.headers,
    };
  };

  const login = async (username = 'admin', password = PASSWORD) => {
    const r = await call('POST', '/api/auth/login', { username, password }, null);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.headers.get('set-cookie')!.split(';')[0]!;
  };

  const takePayment = async (email: string, amount: number) => {
    const response = await fetch(`${stack.hl.url}/_emulator/locations/${stack.locationId}/actions/order-form-payment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        contact: { firstName: 'Test', lastName: 'Payer', email },
        items: [{ name: 'Consulting hour', amount }],
      }),
    });
    assert.equal(response.status < 300, true);
    return eventually(
      async () => (((await countLinks(stack.t.db, stack.connection.id)).salesReceipt ?? 0) > 0 ? true : undefined),
      30_000,
      'a sales receipt',
    );
  };

  before(async () => {
    stack = await startStack();
    url = stack.url;
    await createAdmin(stack.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
    cookie = await login();
  });

  after(async () => {
    await stack?.close();
  });

  it('creates a connection from existing tokens through the API, and refuses bad tokens without storing anything', async () => {
    const location = stack.hl.createLocation({ country: 'US', name: 'Scripted location' });
    const { realmId } = stack.qbo.admin.createCompany({ country: 'US', name: 'Scripted books' });
    const q = stack.qbo.admin.mintToken(realmId);
    const h = stack.hl.mintToken(location.id);
    const before = (await stack.engine.connections.list()).length;
    const refused = await call('POST', '/api/connections/from-tokens', {
      name: 'Bad tokens',
      quickbooks: { realmId, accessToken: 'not-a-token' },
      highlevel: { locationId: location.id, accessToken: h.access_token },
    });
    assert.equal(refused.status, 422);
    assert.equal((await stack.engine.connections.list()).length, before, 'nothing stored for refused tokens');
    const anonymous = await call('POST', '/api/connections/from-tokens', { name: 'x' }, null);
    assert.equal(anonymous.status, 401);
    const created = await call('POST', '/api/connections/from-tokens', {
      name: 'Scripted',
      quickbooks: { realmId, accessToken: q.access_token, refreshToken: q.refresh_token, expiresIn: 3600 },
      highlevel: { locationId: location.id, accessToken: h.access_token, refreshToken: h.refresh_token },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const connection = (await stack.engine.connections.list()).find((c) => c.hlLocationId === location.id)!;
    assert.equal(connection.status, 'connected');
    assert.equal(connection.qboRealmId, realmId);
    // What people call both sides, read from the providers at connect.
    assert.equal((created.json.quickbooks as { companyName: string }).companyName, 'Scripted books');
    assert.equal((created.json.highlevel as { locationName: string }).locationName, 'Scripted location');
  });

  it('hashes passwords with scrypt and verifies them', async () => {
    const hash = await hashPassword('s3cret-password');
    assert.match(hash, /^scrypt\$32768\$8\$1\$/);
    assert.equal(await verifyPassword('s3cret-password', hash), true);
    assert.equal(await verifyPassword('wrong', hash), false);
  });

  it('answers 401 on every non-public API route without a session, and with a forged cookie', async () => {
    const doc = (await call('GET', '/api/openapi.json')).json as unknown as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        if (operation.security?.length === 0) continue; // public: login, setup, state, OAuth callbacks
        const concrete = path.replace(/\{[^}]+\}/g, (m) =>
          m === '{activityId}' ? '1' : m === '{side}' ? 'quickbooks' : m === '{type}' ? 'Invoice' : stack.connection.id,
        );
        const body = ['post', 'put', 'patch'].includes(method) ? {} : undefined;
        for (const as of [null, 'll_session=forged-session-id']) {
          const r = await call(method.toUpperCase(), concrete, body, as);
          assert.equal(r.status, 401, `${method} ${concrete} answered ${r.status}`);
          checked += 1;
        }
      }
    }
    assert.ok(checked >= 30, `checked ${checked}`);
  });

  it('sets the session cookie HttpOnly and SameSite=Lax, Secure only behind https', async () => {
    const plain = await call('POST', '/api/auth/login', { username: 'admin', password: PASSWORD }, null);
    const set = plain.headers.get('set-cookie')!;
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Lax/);
    assert.doesNotMatch(set, /Secure/);
    const secureApp = await buildServer(stack.engine, { dashboard: { publicUrl: 'https://ledgerlink.example.com' } });
    const secureUrl = await listen(secureApp);
    try {
      const r = await fetch(`${secureUrl}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: PASSWORD }),
      });
      assert.match(r.headers.get('set-cookie')!, /; Secure/);
    } finally {
      await secureApp.close();
    }
    const wrong = await call('POST', '/api/auth/login', { username: 'admin', password: 'nope' }, null);
    assert.equal(wrong.status, 401);
    assert.equal((await call('POST', '/api/auth/login', { username: 'admin' }, null)).status, 400);
  });

  it('creates the first admin only with the setup code from the log, once', async () => {
    // A server on a store with no admin: its setup code is announced, not guessable.
    await stack.t.db.query('DELETE FROM admin_users');
    const lines: string[] = [];
    const app = await buildServer(stack.engine, { dashboard: { announce: (line) => lines.push(line) } });
    const setupUrl = await listen(app);
    try {
      const code = /setup code (\w+)/.exec(lines.join('\n'))?.[1];
      assert.ok(code);
      const post = (body: unknown) =>
        fetch(`${setupUrl}/api/auth/setup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const state = (await (await fetch(`${setupUrl}/api/auth/state`)).json()) as { setupNeeded: boolean };
      assert.equal(state.setupNeeded, true);
      assert.equal((await post({ setupCode: 'wrong', username: 'admin', password: PASSWORD })).status, 403);
      assert.equal((await post({ setupCode: code, username: 'admin', password: 'short' })).status, 400);
      const ok = await post({ setupCode: code, username: 'admin', password: PASSWORD });
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('set-cookie')!, /ll_session=/);
      assert.equal((await post({ setupCode: code, username: 'other', password: PASSWORD })).status, 409);
    } finally {
      await app.close();
    }
    cookie = await login();
  });

  it('lists connections with their card', async () => {
    const r = await call('GET', '/api/connections');
    assert.equal(r.status, 200);
    const [card] = (r.json as unknown as { connections: Array<Record<string, unknown>> }).connections;
    assert.equal(card!.id, stack.connection.id);
    assert.equal(card!.status, 'connected');
    assert.equal(card!.taxModel, 'US');
    assert.deepEqual(card!.progress, {
      customerImport: card!.progress && (card!.progress as { customerImport: unknown }).customerImport,
      invoiceImport: null,
      history: null,
    });
    const patched = await call('PATCH', `/api/connections/${stack.connection.id}/settings`, { reviewRequests: true });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.reviewRequests, true);
    assert.equal(
      (await call('PATCH', `/api/connections/${stack.connection.id}/settings`, { reviewRequests: 'yes' })).status,
      400,
    );
    assert.equal(
      (await call('PATCH', `/api/connections/${stack.connection.id}/settings`, { unknown: true })).status,
      400,
    );
  });

  it("offers the location's own workflows for review requests, defaulting to a direct message on a location without any", async () => {
    const base = `/api/connections/${stack.connection.id}/review-requests`;
    const bare = await call('GET', base);
    assert.equal(bare.status, 200, JSON.stringify(bare.json));
    assert.deepEqual(bare.json.workflows, [], 'a new HighLevel location has no workflows');
    assert.deepEqual(bare.json.mechanism, { method: 'message', channel: 'auto' });
    assert.match(String(bare.json.description), /direct SMS/);
    assert.equal(
      (await call('PUT', base, { mechanism: { method: 'workflow', workflowId: 'not-a-workflow' } })).status,
      400,
    );

    const made = await fetch(`${stack.hl.url}/_emulator/locations/${stack.locationId}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ask for a review' }),
    });
    const workflow = ((await made.json()) as { workflow: { id: string } }).workflow;
    const listed = await call('GET', base);
    assert.deepEqual(listed.json.workflows, [{ id: workflow.id, name: 'Ask for a review', status: 'published' }]);
    const chosen = await call('PUT', base, {
      enabled: true,
      mechanism: { method: 'workflow', workflowId: workflow.id },
    });
    assert.equal(chosen.status, 200, JSON.stringify(chosen.json));
    assert.deepEqual(chosen.json.mechanism, {
      method: 'workflow',
      workflowId: workflow.id,
      workflowName: 'Ask for a review',
    });
    const card = await call('GET', `/api/connections/${stack.connection.id}`);
    assert.equal(card.json.reviewRequests, true);
    assert.deepEqual(card.json.reviewRequest, {
      method: 'workflow',
      description: 'enrolment in the HighLevel workflow "Ask for a review"',
      problem: null,
    });

    const back = await call('PUT', base, {
      mechanism: { method: 'message', channel: 'SMS', reviewLink: 'https://g.page/r/example/review' },
    });
    assert.equal(back.status, 200);
    assert.equal(
      (await call('PUT', base, { mechanism: { method: 'message', reviewLink: 'javascript:alert(1)' } })).status,
      400,
    );
  });

  it("scopes activity by connection: another connection's entry is not found", async () => {
    const other = await stack.engine.connections.create({ name: 'Someone else' });
    const foreign = await recordActivity(stack.t.db, {
      connectionId: other.id,
      flow: 'salesReceipts',
      status: 'error',
      message: 'secret of another client',
      retry: { queue: 'crm-transaction', data: { transactionId: 'x', key: 'k' } },
    });
    assert.equal((await call('GET', `/api/connections/${stack.connection.id}/activity/${foreign}`)).status, 404);
    assert.equal((await call('POST', `/api/connections/${stack.connection.id}/activity/${foreign}/retry`)).status, 404);
    const list = await call('GET', `/api/connections/${stack.connection.id}/activity?text=secret`);
    assert.deepEqual((list.json as unknown as { entries: unknown[] }).entries, []);
    assert.equal((await call('GET', `/api/connections/nope/activity`)).status, 404);
  });

  it('retries an error: the job runs again, the error is resolved, nothing is duplicated', async () => {
    await takePayment('retry@example.com', 75);
    const [receipt] = await listActivity(stack.t.db, {
      connectionId: stack.connection.id,
      flow: 'salesReceipts',
      status: 'ok',
    });
    assert.ok(receipt?.crmId);
    const errorId = await recordActivity(stack.t.db, {
      connectionId: stack.connection.id,
      flow: 'salesReceipts',
      status: 'error',
      crmKind: 'transaction',
      crmId: receipt.crmId,
      message: 'QuickBooks was down',
      detail: { provider: 'quickbooks', status: 503 },
      retry: {
        queue: 'crm-transaction',
        data: {
          connectionId: stack.connection.id,
          key: `${stack.connection.id}:txn:${receipt.crmId}`,
          transactionId: receipt.crmId,
        },
      },
    });
    const detail = await call('GET', `/api/connections/${stack.connection.id}/activity/${errorId}`);
    assert.equal(detail.json.fix, 'The provider was busy or down for a while: press Retry');
    assert.equal(detail.json.retryable, true);
    const retried = await call('POST', `/api/connections/${stack.connection.id}/activity/${errorId}/retry`);
    assert.equal(retried.status, 200, JSON.stringify(retried.json));
    assert.equal(Number(retried.json.retried) + Number(retried.json.alreadyQueued), 1);
    const after = await call('GET', `/api/connections/${stack.connection.id}/activity/${errorId}`);
    assert.ok(after.json.resolvedAt);
    assert.equal((await call('POST', `/api/connections/${stack.connection.id}/activity/${errorId}/retry`)).status, 409);
    await stack.engine.queue.idle(['crm-transaction']);
    const receipts = stack.qbo.admin.listEntities(stack.realmId, 'SalesReceipt');
    assert.equal(receipts.length, 1);
  });

  it("names activity records as people call them, with their customer, amount and pages in both providers' apps; echoes of its own writes are left out unless asked for", async () => {
    // The stack made one sales receipt for retry@example.com above.
    const base = `/api/connections/${stack.connection.id}/activity`;
    type Row = {
      id: number;
      echo: boolean;
      message: string;
      record: {
        key: string;
        label: string;
        quickbooksUrl: string | null;
        highlevelUrl: string | null;
        contact: { name: string; email: string; quickbooksUrl: string; highlevelUrl: string } | null;
        amount: { minor: number; currency: string; exponent: number; dueMinor: number | null } | null;
      } | null;
    };
    const rows = async (query = '') =>
      ((await call('GET', `${base}?flow=salesReceipts${query}`)).json as unknown as { entries: Row[] }).entries;
    const created = (await rows()).find((r) => r.message.startsWith('Created sales receipt'))!;
    const receipt = stack.qbo.admin
      .listEntities(stack.realmId, 'SalesReceipt')
      .find((r) => String(r.TotalAmt) === '75')!;
    assert.equal(created.record!.label, `Sales receipt ${String(receipt.DocNumber)}`);
    assert.deepEqual(created.record!.amount, { minor: 7500, currency: 'USD', exponent: 2, dueMinor: null });
    assert.equal(created.record!.contact!.email, 'retry@example.com');
    assert.equal(created.record!.contact!.name, 'Test Payer');
    assert.equal(created.record!.quickbooksUrl, `${stack.qbo.url}/app/salesreceipt?txnId=${String(receipt.Id)}`);
    assert.match(
      created.record!.contact!.highlevelUrl,
      new RegExp(`^${stack.hl.url}/v2/location/${stack.locationId}/contacts/detail/\\w+$`),
    );
    // The emulators answer at the apps' paths with the record itself.
    const qboPage = await (await fetch(created.record!.quickbooksUrl!)).text();
    assert.match(qboPage, new RegExp(`Sales receipt ${String(receipt.DocNumber)}`));
    const hlPage = await fetch(created.record!.contact!.highlevelUrl);
    assert.equal(hlPage.status, 200);
    assert.match(await hlPage.text(), /retry@example\.com/);

    // QuickBooks' webhook for the receipt ledgerlink made is its own write coming back: folded away by default.
    const echoId = await recordActivity(stack.t.db, {
      connectionId: stack.connection.id,
      flow: 'webhooks',
      status: 'skipped',
      qboKind: 'SalesReceipt',
      qboId: String(receipt.Id),
      message: 'Ignored QuickBooks SalesReceipt.Create: SalesReceipt.Create is not an event ledgerlink syncs',
    });
    const listed = async (query: string) =>
      ((await call('GET', `${base}?flow=webhooks${query}`)).json as unknown as { entries: Row[] }).entries;
    assert.equal(
      (await listed('')).some((r) => r.id === echoId),
      false,
    );
    const echo = (await listed('&echoes=true')).find((r) => r.id === echoId)!;
    assert.equal(echo.echo, true);
    assert.equal(echo.record!.key, created.record!.key, 'the echo is grouped with the receipt it reports');
    // A change a bookkeeper made to another receipt is not an echo.
    const other = await recordActivity(stack.t.db, {
      connectionId: stack.connection.id,
      flow: 'webhooks',
      status: 'skipped',
      qboKind: 'SalesReceipt',
      qboId: '999999',
      message: 'Ignored QuickBooks SalesReceipt.Update',
    });
    assert.equal((await listed('')).find((r) => r.id === other)?.echo, false);

    const card = await call('GET', `/api/connections/${stack.connection.id}`);
    assert.equal((card.json.quickbooks as { currencyExponent: number }).currencyExponent, 2);
  });

  it('refuses a form with each field named and what to fix, in plain words', async () => {
    const r = await call('PUT', `/api/connections/${stack.connection.id}/review-requests`, {
      mechanism: { method: 'message', reviewLink: 'not a link' },
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json.fields, [
      { field: 'mechanism.reviewLink', message: 'Enter a web address starting with https://' },
    ]);
    assert.equal(r.json.message, 'mechanism.reviewLink: Enter a web address starting with https://');
    assert.doesNotMatch(JSON.stringify(r.json), /Invalid|expected/);
  });

  it('reconciles from both APIs and finds an amount changed in QuickBooks, then re-syncs it', async () => {
    const first = await call('GET', `/api/connections/${stack.connection.id}/reconciliation?refresh=true`);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const kinds = (
      first.json as unknown as {
        kinds: Array<{ kind: string; matched: number; amountDiffers: number; differences: unknown[] }>;
      }
    ).kinds;
    assert.deepEqual(
      kinds.map((k) => k.kind),
      ['customers', 'invoices', 'salesReceipts', 'payments'],
    );
    assert.equal(kinds.find((k) => k.kind === 'salesReceipts')!.matched, 1);

    // A bookkeeper voids the receipt in QuickBooks: amounts now differ.
    const txnId = (
      await listActivity(stack.t.db, { connectionId: stack.connection.id, flow: 'salesReceipts', status: 'ok' })
    )[0]!.crmId!;
    const link = await findLinkByCrmId(stack.t.db, stack.connection.id, 'salesReceipt', txnId);
    const receipt = stack.qbo.admin.listEntities(stack.realmId, 'SalesReceipt')[0]!;
    const { access_token } = stack.qbo.admin.mintToken(stack.realmId);
    const voided = await fetch(`${stack.qbo.url}/v3/company/${stack.realmId}/salesreceipt?operation=void`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${access_token}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify({ Id: link!.qboId, SyncToken: receipt.SyncToken }),
    });
    assert.equal(voided.status, 200);
    const second = await call('GET', `/api/connections/${stack.connection.id}/reconciliation?refresh=true`);
    const receipts = (
      second.json as unknown as {
        kinds: Array<{
          kind: string;
          amountDiffers: number;
          differences: Array<{ problem: string; crmAmountMinor: number; qboAmountMinor: number; resyncable: boolean }>;
        }>;
      }
    ).kinds.find((k) => k.kind === 'salesReceipts')!;
    assert.equal(receipts.amountDiffers, 1);
    assert.deepEqual(
      receipts.differences.map((d) => [d.problem, d.crmAmountMinor, d.qboAmountMinor, d.resyncable]),
      [['amountDiffers', 7500, 0, true]],
    );
    const resync = await call('POST', `/api/connections/${stack.connection.id}/reconciliation/resync`, {});
    assert.equal(resync.status, 200);
    assert.equal(Number(resync.json.enqueued) + Number(resync.json.alreadyQueued), 1);
  });

  it('refuses an OAuth callback whose state this session did not start', async () => {
    const started = await call('POST', `/api/connections/${stack.connection.id}/connect-quickbooks`, {
      importOldInvoices: true,
    });
    assert.equal(started.status, 200);
    const state = new URL(String(started.json.authorizeUrl)).searchParams.get('state')!;
    const forged = await call('GET', `/oauth/quickbooks/callback?code=abc&realmId=${stack.realmId}&state=forged`);
    assert.equal(forged.status, 400);
    const otherSession = await login();
    const stolen = await call(
      'GET',
      `/oauth/quickbooks/callback?code=abc&realmId=${stack.realmId}&state=${state}`,
      undefined,
      otherSession,
    );
    assert.equal(stolen.status, 400);
    const noSession = await call(
      'GET',
      `/oauth/quickbooks/callback?code=abc&realmId=${stack.realmId}&state=${state}`,
      undefined,
      null,
    );
    assert.equal(noSession.status, 303);
    // The right session gets through the state check; the made-up code is then refused by QuickBooks.
    const own = await call('GET', `/oauth/quickbooks/callback?code=abc&realmId=${stack.realmId}&state=${state}`);
    assert.equal(own.status, 303);
    // The address back names a fixed notice code only; why it failed is this session's to read, once.
    const back = new URLSearchParams(own.headers.get('location')!.slice(2).split('#')[0]);
    assert.deepEqual([...back.keys()], ['notice']);
    assert.equal(back.get('notice'), 'quickbooks-failed');
    assert.equal(
      (await call('GET', '/api/connect-notice?code=quickbooks-failed', undefined, otherSession)).json.text,
      null,
    );
    assert.match(
      String((await call('GET', '/api/connect-notice?code=quickbooks-failed')).json.text),
      /Connecting QuickBooks failed: .*invalid_grant/,
    );
    assert.equal((await call('GET', '/api/connect-notice?code=quickbooks-failed')).json.text, null);
    assert.equal((await call('GET', `/api/connect-notice?code=${encodeURIComponent('<b>pwned</b>')}`)).status, 400);
    const card = await call('GET', `/api/connections/${stack.connection.id}`);
    assert.equal(card.json.status, 'connected');
    assert.equal(card.json.importOldInvoices, false);
  });

  it('refuses state-changing calls from another origin', async () => {
    const r = await fetch(`${url}/api/connections/${stack.connection.id}/pause`, {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example' },
    });
    assert.equal(r.status, 403);
  });

  it("serves the OpenAPI document built from the routes' schemas", async () => {
    const doc = (await call('GET', '/api/openapi.json', undefined, null)).json as unknown as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }
        >
      >;
    };
    assert.equal(doc.openapi, '3.1.0');
    const patch = doc.paths['/api/connections/{id}/settings']!.patch!;
    assert.deepEqual(Object.keys(patch.requestBody!.content['application/json']!.schema.properties!).sort(), [
      'importOldInvoices',
      'paymentsFromQuickBooks',
      'reviewRequests',
    ]);
    assert.ok(doc.paths['/api/connections/{id}/activity/{activityId}/retry']);
  });

  it('docs/openapi.json is the document the server serves (npm run openapi writes it)', async () => {
    const served = (await call('GET', '/api/openapi.json', undefined, null)).json;
    const written = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as unknown;
    assert.deepEqual(served, written);
  });

  it('tax code mapping does not apply to a US company', async () => {
    const codes = await call('GET', `/api/connections/${stack.connection.id}/tax-codes`);
    assert.equal(codes.json.applies, false);
    const put = await call('PUT', `/api/connections/${stack.connection.id}/tax-codes`, { mappings: [] });
    assert.equal(put.status, 409);
  });

  it('disconnects: revokes the QuickBooks tokens, keeps the history', async () => {
    const before = await listActivity(stack.t.db, { connectionId: stack.connection.id, limit: 1000 });
    const r = await call('POST', `/api/connections/${stack.connection.id}/disconnect`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal((r.json.card as { status: string }).status, 'disconnected');
    assert.match((r.json.notes as string[]).join(' '), /uninstall ledgerlink from the location/);
    assert.equal(await stack.engine.connections.readTokens(stack.connection.id, 'qbo'), undefined);
    const afterwards = await listActivity(stack.t.db, { connectionId: stack.connection.id, limit: 1000 });
    assert.equal(afterwards.length, before.length + 1);
    assert.equal((await call('GET', `/api/connections/${stack.connection.id}/reconciliation`)).status, 409);
  });

  it('logs out', async () => {
    assert.equal((await call('POST', '/api/auth/logout')).status, 200);
    assert.equal((await call('GET', '/api/connections')).status, 401);
  });
});
