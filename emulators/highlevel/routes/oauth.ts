// OAuth endpoints (apps/oauth.json, docs/oauth/Authorization.md): the choose-location page, the token endpoint
// (form-encoded; authorization_code and refresh_token grants; Company and Location user types), location tokens
// from an agency token, and the list of installed locations.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { alphanumericId } from '../ids.ts';
import { queryOf, type HttpContext } from '../http.ts';
import { HighLevelError } from '../errors.ts';
import { parse } from '../validate.ts';
import { ALL_SCOPES, REFRESH_TOKEN_TTL_MS } from '../core.ts';
import type { TokenGrant } from '../model.ts';
import { appInstallPayload } from '../webhookPayloads.ts';

function tokenError(description: string, status = 400, error = 'invalid_grant'): HighLevelError {
  return new HighLevelError(status, { error, error_description: description });
}

const tokenBody = z.object({
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  grant_type: z.string().optional(),
  code: z.string().optional(),
  refresh_token: z.string().optional(),
  user_type: z.string().optional(),
  redirect_uri: z.string().optional(),
});

const locationTokenBody = z.object({ companyId: z.string().min(1), locationId: z.string().min(1) });

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

export function registerOAuthRoutes(ctx: HttpContext): void {
  const { core } = ctx;

  const chooseLocation = (request: FastifyRequest, reply: FastifyReply): unknown => {
    const q = queryOf(request);
    if (q.response_type !== 'code' || !q.client_id || !q.redirect_uri) {
      return reply
        .code(400)
        .type('text/html')
        .send(
          '<!doctype html><title>Invalid request</title><p>response_type=code, client_id and redirect_uri are required.</p>',
        );
    }
    if (q.client_id !== core.app.clientId)
      return reply
        .code(400)
        .type('text/html')
        .send('<!doctype html><title>Invalid request</title><p>Unknown client_id.</p>');
    const company = core.defaultCompany();
    const pass = new URLSearchParams({
      client_id: q.client_id,
      redirect_uri: q.redirect_uri,
      scope: q.scope ?? '',
      ...(q.state ? { state: q.state } : {}),
    });
    const links = [...core.store.locations.values()]
      .filter((l) => l.companyId === company.id)
      .map((l) => {
        const href = `/oauth/chooselocation/approve?${new URLSearchParams({ ...Object.fromEntries(pass), locationId: l.id }).toString()}`;
        return `<li><a data-location-id="${escapeHtml(l.id)}" href="${escapeHtml(href)}">${escapeHtml(l.name)} (${escapeHtml(l.country)})</a></li>`;
      });
    const agencyHref = `/oauth/chooselocation/approve?${new URLSearchParams({ ...Object.fromEntries(pass), companyId: company.id }).toString()}`;
    return reply
      .type('text/html')
      .send(`<!doctype html><html><head><meta charset="utf-8"><title>Choose an account</title></head><body>
<h1>Choose an account</h1><p>The app is asking for: ${escapeHtml(q.scope ?? '')}</p>
<ul id="locations">${links.join('')}</ul>
<p><a id="agency" data-company-id="${escapeHtml(company.id)}" href="${escapeHtml(agencyHref)}">Install for the agency (${escapeHtml(company.name)})</a></p>
</body></html>`);
  };
  ctx.route('GET', '/oauth/chooselocation', { public: true }, chooseLocation);
  ctx.route('GET', '/v2/oauth/chooselocation', { public: true }, chooseLocation);

  ctx.route('GET', '/oauth/chooselocation/approve', { public: true }, (request, reply) => {
    const q = queryOf(request);
    if (!q.redirect_uri || q.client_id !== core.app.clientId)
      return reply.code(400).send({ statusCode: 400, message: 'Invalid authorization request' });
    const company = core.defaultCompany();
    const location = q.locationId ? core.store.locations.get(q.locationId) : undefined;
    if (q.locationId && !location) return reply.code(400).send({ statusCode: 400, message: 'Location not found' });
    const code = alphanumericId(40).toLowerCase();
    const userId = alphanumericId();
    core.store.codes.set(code, {
      code,
      clientId: core.app.clientId,
      redirectUri: q.redirect_uri,
      scopes: (q.scope ?? '').split(/\s+/).filter(Boolean),
      companyId: company.id,
      locationId: location?.id ?? null,
      userId,
      expiresAt: core.nowMs() + 10 * 60_000,
      used: false,
    });
    if (location) {
      core.store.installs.set(location.id, core.clock.now().toISOString());
      core.webhooks.emit(
        'AppInstall',
        location.id,
        appInstallPayload({
          appId: core.app.appId,
          companyId: company.id,
          userId,
          companyName: company.name,
          locationId: location.id,
        }),
      );
    } else {
      core.webhooks.emit(
        'AppInstall',
        null,
        appInstallPayload({
          appId: core.app.appId,
          companyId: company.id,
          userId,
          companyName: company.name,
          locationId: null,
        }),
      );
    }
    const target = new URL(q.redirect_uri);
    target.searchParams.set('code', code);
    if (q.state) target.searchParams.set('state', q.state);
    return reply.redirect(target.toString(), 302);
  });

  ctx.route('POST', '/oauth/token', { public: true }, (request) => {
    const body = parse(tokenBody, request.body);
    if (
      !body.client_id ||
      !body.client_secret ||
      body.client_id !== core.app.clientId ||
      body.client_secret !== core.app.clientSecret
    ) {
      throw tokenError('Invalid client credentials', 401, 'invalid_client');
    }
    if (body.user_type !== undefined && body.user_type !== 'Company' && body.user_type !== 'Location') {
      throw new HighLevelError(422, {
        statusCode: 422,
        message: ['user_type must be one of the following values: Company, Location'],
        error: 'Unprocessable Entity',
      });
    }
    if (body.grant_type === 'authorization_code') {
      const code = body.code ? core.store.codes.get(body.code) : undefined;
      if (!code || code.used || code.expiresAt <= core.nowMs()) throw tokenError('Invalid authorization code');
      if (code.redirectUri && body.redirect_uri && body.redirect_uri !== code.redirectUri)
        throw tokenError('redirect_uri does not match');
      code.used = true;
      const userType = body.user_type ?? (code.locationId ? 'Location' : 'Company');
      if (userType === 'Location' && !code.locationId)
        throw tokenError('This code was issued for an agency install; use user_type=Company');
      const scopes = code.scopes.length > 0 ? code.scopes : ALL_SCOPES;
      const approved = code.locationId
        ? [code.locationId]
        : [...core.store.locations.values()].filter((l) => l.companyId === code.companyId).map((l) => l.id);
      const pair = ctx.auth.mint({
        userType,
        companyId: code.companyId,
        locationId: userType === 'Location' ? code.locationId : null,
        scopes,
        userId: code.userId,
        approvedLocations: approved,
      });
      return ctx.auth.tokenResponse(pair);
    }
    if (body.grant_type === 'refresh_token') {
      const old = body.refresh_token ? core.store.tokens.get(body.refresh_token) : undefined;
      if (old?.kind !== 'refresh' || old.revoked) throw tokenError('Invalid refresh token');
      if (old.usedAt !== null) throw tokenError('Refresh token has already been used');
      if (old.expiresAt !== null && old.expiresAt <= core.nowMs()) throw tokenError('Refresh token has expired');
      old.usedAt = core.nowMs();
      const pair = ctx.auth.mint({
        userType: old.userType,
        companyId: old.companyId,
        locationId: old.locationId,
        scopes: old.scopes,
        userId: old.userId,
        approvedLocations: old.approvedLocations,
      });
      if (pair.refresh) pair.refresh.expiresAt = core.nowMs() + REFRESH_TOKEN_TTL_MS;
      return ctx.auth.tokenResponse(pair);
    }
    if (body.grant_type === 'client_credentials')
      throw tokenError('client_credentials is not enabled for this app', 400, 'unauthorized_client');
    throw tokenError('grant_type must be authorization_code or refresh_token', 400, 'unsupported_grant_type');
  });

  ctx.route('POST', '/oauth/locationToken', { agencyOnly: true, scopes: ['oauth.write'] }, (request) => {
    const body = parse(locationTokenBody, request.body);
    const grant = ctx.grant(request);
    if (body.companyId !== grant.companyId)
      throw new HighLevelError(400, { statusCode: 400, message: 'companyId does not match the token' });
    const location = core.store.locations.get(body.locationId);
    if (!location || location.companyId !== grant.companyId)
      throw new HighLevelError(400, { statusCode: 400, message: 'Location not found' });
    if (!core.store.installs.has(location.id))
      throw new HighLevelError(400, { statusCode: 400, message: 'App is not installed on this location' });
    const scopes = grant.scopes.filter((s) => s !== 'oauth.write' && s !== 'oauth.readonly');
    const pair = ctx.auth.mint({
      userType: 'Location',
      companyId: grant.companyId,
      locationId: location.id,
      scopes,
      userId: grant.userId,
      withRefresh: false,
    });
    return {
      access_token: pair.access.token,
      token_type: 'Bearer',
      expires_in: 86_399,
      scope: pair.access.scopes.join(' '),
      locationId: location.id,
      userId: pair.access.userId,
      appId: core.app.appId,
      versionId: core.app.versionId,
      userType: 'Location',
      companyId: grant.companyId,
    };
  });

  ctx.route('GET', '/oauth/installedLocations', { agencyOnly: true, scopes: ['oauth.readonly'] }, (request) => {
    const q = queryOf(request);
    const grant: TokenGrant = ctx.grant(request);
    if (!q.companyId || !q.appId)
      throw new HighLevelError(422, {
        statusCode: 422,
        message: [
          ...(!q.companyId ? ['companyId should not be empty'] : []),
          ...(!q.appId ? ['appId should not be empty'] : []),
        ],
        error: 'Unprocessable Entity',
      });
    if (q.companyId !== grant.companyId)
      throw new HighLevelError(400, { statusCode: 400, message: 'companyId does not match the token' });
    const skip = Number(q.skip ?? 0) || 0;
    const limit = Math.min(Number(q.limit ?? 20) || 20, 500);
    const isInstalled = q.isInstalled === undefined ? undefined : q.isInstalled === 'true';
    let locations = [...core.store.locations.values()]
      .filter((l) => l.companyId === grant.companyId)
      .map((l) => ({
        _id: l.id,
        name: l.name,
        address: [l.address, l.city, l.state, l.postalCode].filter(Boolean).join(', '),
        isInstalled: core.store.installs.has(l.id),
        versionId: core.app.versionId,
        installedAt: core.store.installs.get(l.id),
      }));
    if (isInstalled !== undefined) locations = locations.filter((l) => l.isInstalled === isInstalled);
    if (q.locationId) locations = locations.filter((l) => l._id === q.locationId);
    if (q.query) locations = locations.filter((l) => l.name.toLowerCase().includes(q.query!.toLowerCase()));
    return { locations: locations.slice(skip, skip + limit), count: locations.length, installToFutureLocations: false };
  });
}
