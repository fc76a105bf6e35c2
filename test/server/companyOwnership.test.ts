// A QuickBooks company (realm) and a HighLevel location belong to at most one connection: a second use is refused
// with a page naming the connection that has it, and nothing of either connection changes; reconnecting a
// connection to another company than before is confirmed first; a disconnect never touches another connection.
// Real HTTP through the emulators' consent page and ledgerlink's callbacks, against a real store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../support/stack.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { countLinks, saveLink } from '../../src/store/links.ts';
import { listActivity } from '../../src/store/activity.ts';
import { connectWithTokens } from '../../src/sync/connections/connect.ts';
import type { Connection } from '../../src/store/connections.ts';

const PASSWORD = 'correct horse battery staple';

describe('a company or a location belongs to one connection', () => {
  let stack: Stack;
  let cookie: string;
  /** The stack's own connection (Test US): location L1, company R1. */
  let first: Connection;
  /** A second pair (Second Studio): its own location and company. */
  let second: Connection;
  let secondRealm: string;

  const call = async (
    method: string,
    path: string,
    options: { body?: unknown; form?: Record<string, string>; as?: string | null; origin?: string } = {},
  ) => {
    const as = options.as === undefined ? cookie : options.as;
    const headers: Record<string, string> = { ...(as ? { cookie: as } : {}) };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    } else if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    if (options.origin) headers.origin = options.origin;
    const response = await fetch(`${stack.url}${path}`, {
      method,
      redirect: 'manual',
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // an HTML page
    }
    return { status: response.status, text, json, headers: response.headers };
  };

  const login = async () => {
    const r = await call('POST', '/api/auth/login', { body: { username: 'admin', password: PASSWORD }, as: null });
    assert.equal(r.status, 200);
    return r.headers.get('set-cookie')!.split(';')[0]!;
  };

  /** The dashboard's Connect QuickBooks, Intuit's consent page with `realmId` chosen, and the way back to ledgerlink's callback. */
  const connectQuickBooks = async (connectionId: string, realmId: string, as = cookie) => {
    const started = await call('POST', `/api/connections/${connectionId}/connect-quickbooks`, { body: {}, as });
    assert.equal(started.status, 200, JSON.stringify(started.json));
    const authorize = new URL(String(started.json.authorizeUrl));
    const form = Object.fromEntries(authorize.searchParams);
    const consent = await fetch(`${stack.qbo.url}/connect/oauth2`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, realmId, decision: 'allow' }).toString(),
    });
    assert.equal(consent.status, 302);
    const back = new URL(consent.headers.get('location')!);
    return call('GET', `${back.pathname}${back.search}`, { as });
  };

  /** Whether the connection's stored QuickBooks tokens still open its company. */
  const quickBooksAnswers = async (connection: Connection): Promise<number> => {
    const tokens = await stack.engine.connections.readTokens(connection.id, 'qbo');
    if (!tokens) return 0;
    const realm = (await stack.engine.connections.require(connection.id)).qboRealmId!;
    const r = await fetch(`${stack.qbo.url}/v3/company/${realm}/companyinfo/${realm}`, {
      headers: { authorization: `Bearer ${tokens.accessToken}`, accept: 'application/json' },
    });
    return r.status;
  };

  /** What must not change on a refusal: the row as the store holds it, tokens included. */
  const snapshot = async (id: string) => {
    const row = await stack.t.db.query(
      `SELECT status, status_reason, qbo_realm_id, hl_location_id, qbo_tokens, hl_tokens, connected_at, updated_at FROM connections WHERE id = $1`,
      [id],
    );
    return JSON.stringify(row.rows[0]);
  };

  before(async () => {
    stack = await startStack({ workers: false });
    first = stack.connection;
    await createAdmin(stack.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
    cookie = await login();
    const location = stack.hl.createLocation({ country: 'US', name: 'Second Studio' });
    secondRealm = stack.qbo.admin.createCompany({ country: 'US', name: 'Second Studio LLC' }).realmId;
    const q = stack.qbo.admin.mintToken(secondRealm);
    const h = stack.hl.mintToken(location.id);
    second = await connectWithTokens(stack.engine, {
      name: 'Second Studio',
      quickbooks: {
        realmId: secondRealm,
        accessToken: q.access_token,
        refreshToken: q.refresh_token,
        expiresIn: q.expires_in,
      },
      highlevel: {
        locationId: location.id,
        accessToken: h.access_token,
        refreshToken: h.refresh_token,
        expiresIn: 86_399,
      },
    });
  });

  after(async () => {
    await stack?.close();
  });

  it("refuses another connection's company at the QuickBooks callback, naming that connection, and changes neither", async () => {
    const [firstBefore, secondBefore] = [await snapshot(first.id), await snapshot(second.id)];
    const refused = await connectQuickBooks(second.id, stack.realmId);
    assert.equal(refused.status, 409, refused.text.slice(0, 300));
    assert.match(refused.headers.get('content-type') ?? '', /text\/html/);
    assert.match(refused.text, /already connected to .*Test US/);
    assert.match(refused.text, /Nothing was changed/);
    assert.equal(await snapshot(first.id), firstBefore, 'the connection that has the company is unchanged');
    assert.equal(await snapshot(second.id), secondBefore, 'the connection that asked is unchanged');
    assert.equal(await quickBooksAnswers(first), 200, 'the company still answers the first connection');
    assert.equal(await quickBooksAnswers(second), 200);
  });

  it('refuses a company or a location in use when a connection is made from tokens, and stores nothing', async () => {
    const before = (await stack.engine.connections.list()).length;
    const freshLocation = stack.hl.createLocation({ country: 'US', name: 'Third place' });
    const q = stack.qbo.admin.mintToken(stack.realmId);
    const h = stack.hl.mintToken(freshLocation.id);
    const sameCompany = await call('POST', '/api/connections/from-tokens', {
      body: {
        name: 'Third place',
        quickbooks: { realmId: stack.realmId, accessToken: q.access_token },
        highlevel: { locationId: freshLocation.id, accessToken: h.access_token },
      },
    });
    assert.equal(sameCompany.status, 409, JSON.stringify(sameCompany.json));
    assert.match(String(sameCompany.json.message), /QuickBooks company .* is already connected to "Test US"/);
    const freshRealm = stack.qbo.admin.createCompany({ country: 'US', name: 'Third books' }).realmId;
    const q2 = stack.qbo.admin.mintToken(freshRealm);
    const h2 = stack.hl.mintToken(stack.locationId);
    const sameLocation = await call('POST', '/api/connections/from-tokens', {
      body: {
        name: 'Third place',
        quickbooks: { realmId: freshRealm, accessToken: q2.access_token },
        highlevel: { locationId: stack.locationId, accessToken: h2.access_token },
      },
    });
    assert.equal(sameLocation.status, 409, JSON.stringify(sameLocation.json));
    assert.match(String(sameLocation.json.message), /HighLevel location .* is already connected to "Test US"/);
    assert.equal((await stack.engine.connections.list()).length, before, 'nothing stored');
    assert.equal(await quickBooksAnswers(first), 200);
  });

  it('holds the rule in the store too: a second live connection on a company or a location is refused', async () => {
    const extra = await stack.engine.connections.create({ name: 'Sneaky' });
    await assert.rejects(
      stack.t.db.query(`UPDATE connections SET qbo_realm_id = $2, status = 'connected' WHERE id = $1`, [
        extra.id,
        stack.realmId,
      ]),
      /duplicate key|unique/i,
    );
    await assert.rejects(
      stack.t.db.query(`UPDATE connections SET hl_location_id = $2, status = 'connected' WHERE id = $1`, [
        extra.id,
        stack.locationId,
      ]),
      /duplicate key|unique/i,
    );
    // A disconnected connection keeps its company and location for the record: it holds neither.
    await stack.t.db.query(
      `UPDATE connections SET qbo_realm_id = $2, hl_location_id = $3, status = 'disconnected' WHERE id = $1`,
      [extra.id, stack.realmId, `${stack.locationId}-x`],
    );
    await stack.t.db.query(`DELETE FROM connections WHERE id = $1`, [extra.id]);
  });

  it('disconnecting one connection leaves every other connection as it was', async () => {
    const firstBefore = await snapshot(first.id);
    const r = await call('POST', `/api/connections/${second.id}/disconnect`, { body: {} });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal((await stack.engine.connections.require(second.id)).status, 'disconnected');
    assert.equal(await snapshot(first.id), firstBefore);
    assert.equal(await quickBooksAnswers(first), 200, "the first connection's company still answers it");
  });

  it('a disconnected connection reconnecting to a company in use is refused, and disconnecting it again revokes nothing of the other', async () => {
    const refused = await connectQuickBooks(second.id, stack.realmId);
    assert.equal(refused.status, 409);
    assert.match(refused.text, /Test US/);
    const after = await stack.engine.connections.require(second.id);
    assert.equal(after.status, 'disconnected');
    assert.equal(after.qboRealmId, secondRealm);
    const r = await call('POST', `/api/connections/${second.id}/disconnect`, { body: {} });
    assert.ok(r.status === 200 || r.status === 409, `${r.status}`);
    assert.equal(await quickBooksAnswers(first), 200);
    assert.equal((await stack.engine.connections.require(first.id)).status, 'connected');
  });

  it('a disconnect revokes nothing at Intuit while another connection holds tokens for the same company', async () => {
    // A store that had two connections on one company before the rule existed: the other one is disconnected
    // already (the migration leaves at most one live), with tokens that Intuit ties to the same app and company.
    const legacy = await stack.engine.connections.create({ name: 'Legacy twin' });
    await stack.engine.connections.setStatus(legacy.id, 'disconnected', 'test');
    const q = stack.qbo.admin.mintToken(stack.realmId);
    await stack.engine.connections.attachQuickBooks(legacy.id, {
      realmId: stack.realmId,
      country: 'US',
      homeCurrency: 'USD',
      tokens: {
        accessToken: q.access_token,
        refreshToken: q.refresh_token,
        accessExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
      },
    });
    const r = await call('POST', `/api/connections/${legacy.id}/disconnect`, { body: {} });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.match((r.json.notes as string[]).join(' '), /Test US/);
    assert.equal(
      await quickBooksAnswers(first),
      200,
      'Intuit was not asked to disconnect the app from the company the other connection uses',
    );
    await stack.t.db.query(`DELETE FROM connections WHERE id = $1`, [legacy.id]);
  });

  describe('reconnecting to another company than before', () => {
    let newRealm: string;

    /** Reconnects Second Studio to a new company and returns the confirmation page and its form fields. */
    const askSwitch = async () => {
      newRealm = stack.qbo.admin.createCompany({ country: 'CA', name: 'Maple Books Inc.' }).realmId;
      const page = await connectQuickBooks(second.id, newRealm);
      assert.equal(page.status, 200, page.text.slice(0, 400));
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      const action = /<form method="post" action="([^"]+)"/.exec(page.text)?.[1];
      const token = /name="switch" value="([^"]+)"/.exec(page.text)?.[1];
      assert.ok(action && token, 'the page has the confirmation form');
      return { page, action: action.replaceAll('&amp;', '&'), token };
    };

    before(async () => {
      await saveLink(stack.t.db, {
        connectionId: second.id,
        kind: 'customer',
        crmId: 'contact-1',
        qboId: '58',
        origin: 'crm',
        state: 'linked',
        snapshotHash: null,
        qboSyncToken: null,
        qboUpdatedAt: null,
        crmUpdatedAt: null,
      });
    });

    it('asks first, naming both companies and what happens to the links, and changes nothing until confirmed', async () => {
      const before = await snapshot(second.id);
      const { page } = await askSwitch();
      assert.match(page.text, /Second Studio LLC/);
      assert.match(page.text, /Maple Books Inc\./);
      assert.match(page.text, /links?/i);
      assert.equal(await snapshot(second.id), before);
      assert.equal((await countLinks(stack.t.db, second.id)).customer, 1);
    });

    it("refuses the confirmation from another origin, another session, or without the form's token", async () => {
      const { action, token } = await askSwitch();
      const before = await snapshot(second.id);
      const foreign = await call('POST', action, {
        form: { switch: token, decision: 'confirm' },
        origin: 'https://evil.example',
      });
      assert.equal(foreign.status, 403);
      const other = await login();
      const stolen = await call('POST', action, { form: { switch: token, decision: 'confirm' }, as: other });
      assert.equal(stolen.status, 400);
      const forged = await call('POST', action, { form: { switch: 'forged', decision: 'confirm' } });
      assert.equal(forged.status, 400);
      assert.equal(await snapshot(second.id), before);
    });

    it("cancelling keeps the connection on its company and gives the new company's access back", async () => {
      const { action, token } = await askSwitch();
      const before = await snapshot(second.id);
      const cancelled = await call('POST', action, { form: { switch: token, decision: 'cancel' } });
      assert.equal(cancelled.status, 303);
      assert.match(
        new URLSearchParams(cancelled.headers.get('location')!.split('?')[1]!.split('#')[0]).get('notice')!,
        /^quickbooks-kept$/,
      );
      assert.equal(await snapshot(second.id), before);
      const grants = stack.qbo.admin.oauth.snapshot().grants.filter((g) => g.realmId === newRealm);
      assert.ok(
        grants.length > 0 && grants.every((g) => g.revoked),
        "ledgerlink's access to the company it was not switched to is revoked",
      );
    });

    it("switches after an explicit confirmation, setting the old company's links aside; switching back follows them again", async () => {
      const { action, token } = await askSwitch();
      const confirmed = await call('POST', action, { form: { switch: token, decision: 'confirm' } });
      assert.equal(confirmed.status, 303, confirmed.text);
      const now = await stack.engine.connections.require(second.id);
      assert.equal(now.qboRealmId, newRealm);
      // Second Studio was disconnected above, which forgot its HighLevel tokens: the new company is attached, and
      // the connection waits for HighLevel instead of claiming to be connected.
      assert.equal(now.status, 'revoked', now.statusReason ?? '');
      assert.match(now.statusReason ?? '', /^Needs HighLevel reconnect/);
      assert.equal(now.qboCountry, 'CA');
      assert.equal((await countLinks(stack.t.db, second.id)).customer ?? 0, 0, 'no link points into the new company');
      const replay = await call('POST', action, { form: { switch: token, decision: 'confirm' } });
      assert.equal(replay.status, 400, 'the confirmation is single use');
      const activity = await listActivity(stack.t.db, { connectionId: second.id, flow: 'connection', limit: 20 });
      assert.ok(
        activity.some((a) => /Second Studio LLC/.test(a.message) && /Maple Books Inc\./.test(a.message)),
        activity.map((a) => a.message).join('\n'),
      );

      // Back to the first company: its links are followed again.
      const page = await connectQuickBooks(second.id, secondRealm);
      assert.equal(page.status, 200);
      const back = /name="switch" value="([^"]+)"/.exec(page.text)![1]!;
      const action2 = /<form method="post" action="([^"]+)"/.exec(page.text)![1]!.replaceAll('&amp;', '&');
      const again = await call('POST', action2, { form: { switch: back, decision: 'confirm' } });
      assert.equal(again.status, 303);
      assert.equal((await stack.engine.connections.require(second.id)).qboRealmId, secondRealm);
      assert.equal((await countLinks(stack.t.db, second.id)).customer, 1);
      assert.equal(await quickBooksAnswers(first), 200);
    });
  });
});
