import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Api, setup, WebhookReceiver, type Setup } from './helpers.ts';

describe('HighLevel emulator: Version header, tokens, scopes', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });
  after(async () => {
    await s.emulator.close();
  });

  it('answers 401 "version header was not found." without a Version header', async () => {
    const r = await s.api.get(`/locations/${s.locationId}`, { version: null });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { statusCode: 401, message: 'version header was not found.', error: 'Unauthorized' });
  });

  it('answers 401 "version header is invalid" for an unknown Version', async () => {
    const r = await s.api.get(`/locations/${s.locationId}`, { version: '2020-01-01' });
    assert.equal(r.status, 401);
    assert.equal(r.body.message, 'version header is invalid');
  });

  it('accepts every Version HighLevel accepts', async () => {
    for (const version of ['2021-04-15', '2021-07-28', '2023-02-21', 'v3']) {
      const r = await s.api.get(`/locations/${s.locationId}`, { version });
      assert.equal(r.status, 200, version);
    }
  });

  it('answers 401 "Invalid token: access token is invalid" for missing or unknown tokens', async () => {
    for (const token of [null, 'eyJnot-a-token']) {
      const r = await s.api.get(`/locations/${s.locationId}`, { token });
      assert.equal(r.status, 401);
      assert.equal(r.body.message, 'Invalid token: access token is invalid');
    }
  });

  it('expires access tokens after 86399 s of emulated time', async () => {
    const minted = await s.api.admin('POST', '/tokens', { locationId: s.locationId });
    const token = String(minted.body.access_token);
    assert.equal(minted.body.expires_in, 86399);
    assert.equal((await s.api.get(`/locations/${s.locationId}`, { token })).status, 200);
    await s.api.admin('POST', '/clock/advance', { seconds: 86_400 });
    const r = await s.api.get(`/locations/${s.locationId}`, { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.message, 'Invalid token: access token is invalid');
    // The suite's own token was minted before the jump too: mint a fresh one for the tests that follow.
    s.api.token = String((await s.api.admin('POST', '/tokens', { locationId: s.locationId })).body.access_token);
  });

  it('answers 401 "The token is not authorized for this scope." when a scope is missing', async () => {
    const minted = await s.api.admin('POST', '/tokens', { locationId: s.locationId, scopes: ['contacts.readonly'] });
    const token = String(minted.body.access_token);
    const ok = await s.api.post('/contacts/search', { locationId: s.locationId, pageLimit: 1 }, { token });
    assert.equal(ok.status, 200);
    const r = await s.api.post('/contacts/', { locationId: s.locationId, email: 'a@b.co' }, { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.message, 'The token is not authorized for this scope.');
  });

  it('forbids a location token from touching another location (403)', async () => {
    const other = await s.api.admin('POST', '/locations', { country: 'GB' });
    const r = await s.api.get(`/locations/${String(other.body.locationId)}`);
    assert.equal(r.status, 403);
    assert.equal(r.body.message, 'The token does not have access to this location.');
  });

  it('revokes tokens on demand', async () => {
    const minted = await s.api.admin('POST', '/tokens', { locationId: s.locationId });
    const token = String(minted.body.access_token);
    assert.equal((await s.api.admin('POST', '/tokens/revoke', { token })).body.revoked, 1);
    assert.equal((await s.api.get(`/locations/${s.locationId}`, { token })).status, 401);
  });

  it('accepts private-integration tokens (pit-...) with their scopes', async () => {
    const pit = await s.api.admin('POST', '/private-integration-tokens', {
      locationId: s.locationId,
      scopes: ['locations.readonly'],
    });
    const token = String(pit.body.token);
    assert.match(token, /^pit-/);
    assert.equal((await s.api.get(`/locations/${s.locationId}`, { token })).status, 200);
    const r = await s.api.post('/contacts/search', { locationId: s.locationId, pageLimit: 1 }, { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.message, 'The token is not authorized for this scope.');
  });

  it('answers 422 with a message array on validation errors', async () => {
    const r = await s.api.post('/contacts/', { email: 'not-an-email' });
    assert.equal(r.status, 422);
    assert.equal(r.body.statusCode, 422);
    assert.equal(r.body.error, 'Unprocessable Entity');
    assert.ok(Array.isArray(r.body.message));
    assert.deepEqual(r.body.message, ['locationId should not be empty']);
    const undeclared = await s.api.post('/contacts/', { locationId: s.locationId, nickname: 'x', gender: 'female' });
    assert.equal(undeclared.status, 422);
    assert.deepEqual(undeclared.body.message, ['property nickname should not exist']);
    const typed = await s.api.post('/contacts/', { locationId: s.locationId, firstName: 42, email: 'not-an-email' });
    assert.equal(typed.status, 422);
    assert.deepEqual(typed.body.message, ['firstName must be a string', 'email must be an email']);
    const query = await s.api.get(`/locations/${s.locationId}/customFields?locationId=${s.locationId}`);
    assert.equal(query.status, 422, 'GET customFields declares only model (highlevel-api-sdk issue 7)');
    assert.deepEqual(query.body.message, ['property locationId should not exist']);
  });

  it('answers unknown routes like NestJS (404 "Cannot GET ...")', async () => {
    const r = await s.api.get('/nothing/here');
    assert.equal(r.status, 404);
    assert.equal(r.body.message, 'Cannot GET /nothing/here');
  });
});

describe('HighLevel emulator: OAuth marketplace flow', () => {
  let s: Setup;
  let receiver: WebhookReceiver;
  before(async () => {
    s = await setup();
    receiver = await new WebhookReceiver().start();
    await s.api.admin('POST', '/app', { webhookUrl: receiver.url });
  });
  after(async () => {
    await s.emulator.close();
    await receiver.close();
  });

  async function authorize(path: string, pick: RegExp, state?: string): Promise<URL> {
    const app = await s.api.admin('GET', '/app');
    const clientId = String(app.body.clientId);
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: 'http://localhost:9/callback',
      scope: 'contacts.readonly contacts.write locations.readonly invoices.readonly oauth.write oauth.readonly',
      ...(state ? { state } : {}),
    });
    const page = await fetch(`${s.api.url}${path}?${q.toString()}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    const href = pick.exec(html)?.[1];
    assert.ok(href, 'the page links to a location');
    const approve = await fetch(s.api.url + href.replace(/&amp;/g, '&'), { redirect: 'manual' });
    assert.equal(approve.status, 302);
    return new URL(approve.headers.get('location') ?? '');
  }

  async function tokenCall(form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const r = await fetch(`${s.api.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  it('chooses a location, redirects with code and state, exchanges the code, rotates refresh tokens', async () => {
    const app = await s.api.admin('GET', '/app');
    const redirect = await authorize(
      '/v2/oauth/chooselocation',
      new RegExp(`data-location-id="${s.locationId}" href="([^"]+)"`),
      'xyz-state',
    );
    assert.equal(redirect.searchParams.get('state'), 'xyz-state');
    const code = redirect.searchParams.get('code');
    assert.ok(code);
    await s.emulator.flushWebhooks();
    const install = receiver.ofType('INSTALL');
    assert.equal(install.length, 1);
    assert.equal(install[0]!.payload.locationId, s.locationId);

    const creds = { client_id: String(app.body.clientId), client_secret: String(app.body.clientSecret) };
    const first = await tokenCall({
      ...creds,
      grant_type: 'authorization_code',
      code,
      user_type: 'Location',
      redirect_uri: 'http://localhost:9/callback',
    });
    assert.equal(first.status, 200);
    assert.equal(first.body.token_type, 'Bearer');
    assert.equal(first.body.expires_in, 86399);
    assert.equal(first.body.userType, 'Location');
    assert.equal(first.body.locationId, s.locationId);
    assert.equal(typeof first.body.companyId, 'string');
    assert.equal(typeof first.body.userId, 'string');
    assert.match(String(first.body.scope), /contacts\.write/);

    // the code is single use
    const again = await tokenCall({ ...creds, grant_type: 'authorization_code', code, user_type: 'Location' });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assert.equal(typeof again.body.error_description, 'string');

    const api = new Api(s.emulator, String(first.body.access_token));
    assert.equal((await api.get(`/locations/${s.locationId}`)).status, 200);

    const refreshed = await tokenCall({
      ...creds,
      grant_type: 'refresh_token',
      refresh_token: String(first.body.refresh_token),
      user_type: 'Location',
    });
    assert.equal(refreshed.status, 200);
    assert.notEqual(refreshed.body.refresh_token, first.body.refresh_token);
    const reused = await tokenCall({
      ...creds,
      grant_type: 'refresh_token',
      refresh_token: String(first.body.refresh_token),
    });
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error, 'invalid_grant');
    const next = await tokenCall({
      ...creds,
      grant_type: 'refresh_token',
      refresh_token: String(refreshed.body.refresh_token),
    });
    assert.equal(next.status, 200);
  });

  it('expires unused refresh tokens after a year', async () => {
    const app = await s.api.admin('GET', '/app');
    const minted = await s.api.admin('POST', '/tokens', { locationId: s.locationId });
    await s.api.admin('POST', '/clock/advance', { days: 366 });
    const r = await tokenCall({
      client_id: String(app.body.clientId),
      client_secret: String(app.body.clientSecret),
      grant_type: 'refresh_token',
      refresh_token: String(minted.body.refresh_token),
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
  });

  it('refuses wrong client credentials', async () => {
    const r = await tokenCall({
      client_id: 'nope',
      client_secret: 'nope',
      grant_type: 'refresh_token',
      refresh_token: 'x',
    });
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_client');
  });

  it('issues Company tokens, location tokens from them, and lists installed locations', async () => {
    const app = await s.api.admin('GET', '/app');
    const redirect = await authorize('/oauth/chooselocation', /id="agency" data-company-id="[^"]+" href="([^"]+)"/);
    const creds = { client_id: String(app.body.clientId), client_secret: String(app.body.clientSecret) };
    const company = await tokenCall({
      ...creds,
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code') ?? '',
      user_type: 'Company',
    });
    assert.equal(company.status, 200);
    assert.equal(company.body.userType, 'Company');
    assert.equal(company.body.locationId, undefined);
    assert.ok(Array.isArray(company.body.approvedLocations));
    const agency = new Api(s.emulator, String(company.body.access_token));

    // Company tokens may read locations and invoices of their company (Agency-Access in the spec)...
    assert.equal((await agency.get(`/locations/${s.locationId}`)).status, 200);
    assert.equal((await agency.get(`/invoices/?altId=${s.locationId}&altType=location&limit=5&offset=0`)).status, 200);
    // ...but not location-only APIs such as contacts.
    const denied = await agency.post('/contacts/search', { locationId: s.locationId, pageLimit: 1 });
    assert.equal(denied.status, 401);

    const form = new URLSearchParams({ companyId: String(company.body.companyId), locationId: s.locationId });
    const lt = await fetch(`${s.api.url}/oauth/locationToken`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${agency.token}`,
        version: '2021-07-28',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: form.toString(),
    });
    assert.equal(lt.status, 200);
    const locationToken = (await lt.json()) as Record<string, unknown>;
    assert.equal(locationToken.locationId, s.locationId);
    assert.equal(locationToken.expires_in, 86399);
    const asLocation = new Api(s.emulator, String(locationToken.access_token));
    assert.equal((await asLocation.post('/contacts/search', { locationId: s.locationId, pageLimit: 1 })).status, 200);

    const appId = String(app.body.appId);
    const installed = await agency.get(
      `/oauth/installedLocations?companyId=${String(company.body.companyId)}&appId=${appId}&isInstalled=true`,
    );
    assert.equal(installed.status, 200);
    const ids = (installed.body.locations as Array<Record<string, unknown>>).map((l) => l._id);
    assert.ok(ids.includes(s.locationId));
    assert.equal(installed.body.count, ids.length);

    // A location token may not mint location tokens (Agency-Access-Only).
    const r = await fetch(`${s.api.url}/oauth/locationToken`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${s.token}`,
        version: '2021-07-28',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: form.toString(),
    });
    assert.equal(r.status, 401);
  });
});
