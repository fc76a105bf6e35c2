import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { QuickBooksEmulator } from '../../../emulators/quickbooks/index.ts';
import { startQuickBooksEmulator } from '../../../emulators/quickbooks/index.ts';
import { request } from './helpers.ts';

const CLIENT_ID = 'test-app';
const CLIENT_SECRET = 'test-secret';
const REDIRECT = 'http://localhost:9999/callback';
const basic = (id = CLIENT_ID, secret = CLIENT_SECRET): string =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('QuickBooks emulator OAuth 2.0', () => {
  let emulator: QuickBooksEmulator;
  let realmId: string;

  before(async () => {
    emulator = await startQuickBooksEmulator({
      limits: false,
      apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, name: 'Ledgerlink Test', redirectUris: [REDIRECT] }],
    });
    realmId = (await request(`${emulator.url}/_emulator/companies`, 'POST', { country: 'US', name: 'Acme Plumbing' }))
      .body.realmId as string;
  });
  after(() => emulator.close());

  const tokenRequest = (form: Record<string, string>, auth = basic()): Promise<Response> =>
    fetch(`${emulator.url}/oauth2/v1/tokens/bearer`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
    });

  async function authorize(state: string): Promise<URL> {
    const authorizeUrl = `${emulator.url}/connect/oauth2?client_id=${CLIENT_ID}&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=${encodeURIComponent(REDIRECT)}&state=${state}`;
    const page = await fetch(authorizeUrl);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<form method="post" action="\/connect\/oauth2">/);
    assert.match(html, /Acme Plumbing/);
    assert.ok(html.includes(`value="${realmId}"`), 'the company picker lists the realm');
    assert.doesNotMatch(html, /\bchecked\b/, 'no company is chosen in advance');
    // Submit the consent form as a browser would.
    const form = new URLSearchParams({
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT,
      state,
      scope: 'com.intuit.quickbooks.accounting',
      response_type: 'code',
      realmId,
      decision: 'allow',
    });
    const submitted = await fetch(`${emulator.url}/connect/oauth2`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    assert.equal(submitted.status, 302);
    return new URL(submitted.headers.get('location')!);
  }

  it('redirects with code, state and realmId after consent, and exchanges the code once with Basic auth', async () => {
    const callback = await authorize('xyz123');
    assert.equal(callback.origin + callback.pathname, REDIRECT);
    assert.equal(callback.searchParams.get('state'), 'xyz123');
    assert.equal(callback.searchParams.get('realmId'), realmId);
    const code = callback.searchParams.get('code')!;
    assert.ok(code);

    const exchanged = await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    assert.equal(exchanged.status, 200);
    assert.ok(exchanged.headers.get('intuit_tid'));
    const tokens = (await exchanged.json()) as Record<string, unknown>;
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.expires_in, 3600);
    assert.equal(tokens.x_refresh_token_expires_in, 100 * 24 * 3600);
    assert.equal(typeof tokens.access_token, 'string');

    const api = await request(`${emulator.url}/v3/company/${realmId}/companyinfo/${realmId}`, 'GET', undefined, {
      authorization: `Bearer ${String(tokens.access_token)}`,
    });
    assert.equal(api.status, 200);
    assert.equal((api.body.CompanyInfo as Record<string, unknown>).CompanyName, 'Acme Plumbing');

    const userinfo = await request(`${emulator.url}/v1/openid_connect/userinfo`, 'GET', undefined, {
      authorization: `Bearer ${String(tokens.access_token)}`,
    });
    assert.equal(userinfo.status, 200);
    assert.ok(userinfo.body.email);

    const reused = await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    assert.equal(reused.status, 400);
    assert.equal(((await reused.json()) as Record<string, unknown>).error, 'invalid_grant');
  });

  it('refuses a wrong client secret with invalid_client and an unknown grant type', async () => {
    const callback = await authorize('s2');
    const wrong = await tokenRequest(
      { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT },
      basic(CLIENT_ID, 'nope'),
    );
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as Record<string, unknown>).error, 'invalid_client');
    const grant = await tokenRequest({ grant_type: 'password' });
    assert.equal(grant.status, 400);
    assert.equal(((await grant.json()) as Record<string, unknown>).error, 'unsupported_grant_type');
    const mismatch = await tokenRequest({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: 'http://localhost:9999/other',
    });
    assert.equal(((await mismatch.json()) as Record<string, unknown>).error, 'invalid_grant');
  });

  it('redirects with error=access_denied when the user cancels, and rejects an unregistered redirect_uri', async () => {
    const form = new URLSearchParams({
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT,
      state: 'st',
      scope: 'com.intuit.quickbooks.accounting',
      response_type: 'code',
      realmId,
      decision: 'deny',
    });
    const denied = await fetch(`${emulator.url}/connect/oauth2`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const location = new URL(denied.headers.get('location')!);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('state'), 'st');
    const bad = await fetch(
      `${emulator.url}/connect/oauth2?client_id=${CLIENT_ID}&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=${encodeURIComponent('http://evil.example/cb')}`,
    );
    assert.equal(bad.status, 400);
  });

  it('asks for a company when the consent form is sent without one, and redirects nowhere', async () => {
    const form = new URLSearchParams({
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT,
      state: 'st',
      scope: 'com.intuit.quickbooks.accounting',
      response_type: 'code',
      decision: 'allow',
    });
    const unchosen = await fetch(`${emulator.url}/connect/oauth2`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    assert.equal(unchosen.status, 400);
    assert.match(await unchosen.text(), /Choose a company/);
  });

  it('rotates the refresh token on every refresh and keeps the previous one usable for 24 hours only', async () => {
    const callback = await authorize('r1');
    const first = (await (
      await tokenRequest({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: REDIRECT,
      })
    ).json()) as Record<string, string>;
    const second = (await (
      await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token! })
    ).json()) as Record<string, string>;
    assert.ok(second.refresh_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.notEqual(second.access_token, first.access_token);
    // Within the grace window the old refresh token still works (a refresh that crashed can be retried).
    const retried = await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    assert.equal(retried.status, 200);
    const latest = (await retried.json()) as Record<string, string>;
    emulator.admin.advanceClock(25 * 3600 * 1000);
    const late = await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    assert.equal(late.status, 400);
    assert.equal(((await late.json()) as Record<string, unknown>).error, 'invalid_grant');
    const fresh = await tokenRequest({ grant_type: 'refresh_token', refresh_token: latest.refresh_token! });
    assert.equal(fresh.status, 200);
  });

  it("answers 401 with Intuit's lowercase fault body, code 3200 and WWW-Authenticate once the access token expires", async () => {
    const minted = await request(`${emulator.url}/_emulator/tokens`, 'POST', { realmId });
    assert.deepEqual(Object.keys(minted.body).slice(0, 4), [
      'access_token',
      'refresh_token',
      'expires_in',
      'token_type',
    ]);
    assert.equal(minted.body.expires_in, 3600);
    assert.equal(minted.body.token_type, 'bearer');
    const auth = { authorization: `Bearer ${String(minted.body.access_token)}` };
    const url = `${emulator.url}/v3/company/${realmId}/preferences`;
    assert.equal((await request(url, 'GET', undefined, auth)).status, 200);
    emulator.admin.advanceClock(3601 * 1000);
    const expired = await request(url, 'GET', undefined, auth);
    assert.equal(expired.status, 401);
    assert.equal(expired.headers.get('www-authenticate'), 'Bearer realm="Intuit", error="invalid_token"');
    const f = expired.body.fault as { error: Array<{ code: string; message: string; detail: string }>; type: string };
    assert.equal(f.type, 'AUTHENTICATION');
    assert.equal(f.error[0]!.code, '3200');
    assert.equal(f.error[0]!.message, 'message=AuthenticationFailed; errorCode=003200; statusCode=401');
    assert.match(f.error[0]!.detail, /Token expired/);
    const wrong = await request(url, 'GET', undefined, { authorization: 'Bearer not-a-token' });
    assert.equal(wrong.status, 401);
    const missing = await request(url, 'GET');
    assert.equal(missing.status, 401);
  });

  it('revokes the connection through /v2/oauth2/tokens/revoke (JSON or form body)', async () => {
    const minted = await request(`${emulator.url}/_emulator/tokens`, 'POST', { realmId, clientId: CLIENT_ID });
    const auth = { authorization: `Bearer ${String(minted.body.access_token)}` };
    const url = `${emulator.url}/v3/company/${realmId}/preferences`;
    assert.equal((await request(url, 'GET', undefined, auth)).status, 200);
    const revoked = await fetch(`${emulator.url}/v2/oauth2/tokens/revoke`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ token: minted.body.refresh_token }),
    });
    assert.equal(revoked.status, 200);
    const after401 = await request(url, 'GET', undefined, auth);
    assert.equal(after401.status, 401);
    const refresh = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: String(minted.body.refresh_token),
    });
    assert.equal(refresh.status, 400);

    const other = await request(`${emulator.url}/_emulator/tokens`, 'POST', { realmId, clientId: CLIENT_ID });
    const form = await fetch(`${emulator.url}/v2/oauth2/tokens/revoke`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(String(other.body.access_token))}`,
    });
    assert.equal(form.status, 200);
    assert.equal(
      (await request(url, 'GET', undefined, { authorization: `Bearer ${String(other.body.access_token)}` })).status,
      401,
    );
  });

  it('refuses a token minted for another realm with 403 (code 3100) and admin revocation by realm gives 401', async () => {
    const other = (await request(`${emulator.url}/_emulator/companies`, 'POST', { country: 'CA' })).body
      .realmId as string;
    const minted = await request(`${emulator.url}/_emulator/tokens`, 'POST', { realmId: other });
    const auth = { authorization: `Bearer ${String(minted.body.access_token)}` };
    const cross = await request(`${emulator.url}/v3/company/${realmId}/preferences`, 'GET', undefined, auth);
    assert.equal(cross.status, 403);
    assert.equal((cross.body.Fault as { Error: Array<{ code: string }> }).Error[0]!.code, '3100');
    await request(`${emulator.url}/_emulator/tokens/revoke`, 'POST', { realmId: other });
    assert.equal(
      (await request(`${emulator.url}/v3/company/${other}/preferences`, 'GET', undefined, auth)).status,
      401,
    );
  });
});
