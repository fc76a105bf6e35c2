// Intuit's OAuth 2.0 endpoints on the emulator's origin: /connect/oauth2 (a consent page with a company picker, nothing
// picked in advance, then a redirect carrying code, state and realmId), /oauth2/v1/tokens/bearer (authorization_code
// and refresh_token grants, client credentials by HTTP Basic) and /v2/oauth2/tokens/revoke (reference §1).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { QuickBooksAdmin } from './admin.ts';
import { countries } from './company.ts';
import type { Country } from './company.ts';
import { mediaType } from './http.ts';
import { OAuthError } from './oauth.ts';
import type { App } from './oauth.ts';

function formOrJson(request: FastifyRequest): Record<string, string> {
  const raw = typeof request.body === 'string' ? request.body : '';
  if (mediaType(request).includes('json')) {
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (parsed && typeof parsed === 'object')
        return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
    } catch {
      return {};
    }
    return {};
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function basicCredentials(request: FastifyRequest): { id?: string; secret?: string } {
  const header = request.headers.authorization;
  const match = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!match) return {};
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return {};
  return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
}

function oauthError(reply: FastifyReply, error: OAuthError): FastifyReply {
  return reply
    .code(error.status)
    .header('cache-control', 'no-store')
    .type('application/json')
    .send({ error: error.error, error_description: error.description });
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function htmlPage(title: string, body: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    '<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}label{display:block;margin:.4rem 0}' +
    'button{margin:1rem .5rem 0 0;padding:.5rem 1rem}</style></head><body>' +
    body +
    '</body></html>'
  );
}

export function registerOAuthRoutes(app: FastifyInstance, admin: QuickBooksAdmin): void {
  app.get('/connect/oauth2', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const client = q.client_id ? admin.oauth.apps.get(q.client_id) : undefined;
    const problem = authorizeProblem(client, q);
    if (problem)
      return reply
        .code(400)
        .type('text/html')
        .send(htmlPage('Authorization error', `<h1>Something went wrong</h1><p>${escapeHtml(problem)}</p>`));
    const hidden = ['client_id', 'redirect_uri', 'state', 'scope', 'response_type']
      .map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(q[k] ?? '')}">`)
      .join('');
    // Nothing is chosen in advance: the person picks the company (a preselected one was easily another
    // connection's). `required` makes the browser ask for a choice before the form is sent.
    const companies = admin.listCompanies();
    const options =
      companies
        .map(
          (c) =>
            `<label><input type="radio" name="realmId" value="${escapeHtml(c.realmId)}" required> ${escapeHtml(c.name)} (${c.country}, realm ${escapeHtml(c.realmId)})</label>`,
        )
        .join('') +
      countries
        .map(
          (country) =>
            `<label><input type="radio" name="realmId" value="new-${country}" required> A new ${country} sandbox company</label>`,
        )
        .join('');
    return reply
      .type('text/html')
      .send(
        htmlPage(
          `Connect ${client!.name}`,
          `<h1>${escapeHtml(client!.name)} wants to connect to your QuickBooks company</h1>` +
            `<p>Requested access: ${escapeHtml(q.scope ?? '')}</p>` +
            `<form method="post" action="/connect/oauth2">${hidden}<fieldset><legend>Choose a company</legend>${options}</fieldset>` +
            '<button type="submit" name="decision" value="allow">Connect</button><button type="submit" name="decision" value="deny">Cancel</button></form>',
        ),
      );
  });

  app.post('/connect/oauth2', async (request, reply) => {
    const form = formOrJson(request);
    const client = form.client_id ? admin.oauth.apps.get(form.client_id) : undefined;
    const problem = authorizeProblem(client, form);
    if (problem)
      return reply
        .code(400)
        .type('text/html')
        .send(htmlPage('Authorization error', `<p>${escapeHtml(problem)}</p>`));
    const target = new URL(form.redirect_uri!);
    if (form.decision !== 'allow') {
      target.searchParams.set('error', 'access_denied');
      if (form.state) target.searchParams.set('state', form.state);
      return reply.redirect(target.toString(), 302);
    }
    let realmId = form.realmId ?? '';
    if (realmId.startsWith('new-')) {
      const country = realmId.slice(4) as Country;
      if (!countries.includes(country))
        return reply.code(400).type('text/html').send(htmlPage('Authorization error', '<p>Unknown country</p>'));
      realmId = admin.createCompany({ country }).realmId;
    }
    if (!admin.company(realmId))
      return reply
        .code(400)
        .type('text/html')
        .send(
          htmlPage(
            'Authorization error',
            '<h1>Choose a company</h1><p>No company was chosen: go back and pick the one to connect.</p>',
          ),
        );
    target.searchParams.set('code', admin.oauth.issueCode(client!.clientId, realmId, form.redirect_uri!));
    if (form.state) target.searchParams.set('state', form.state);
    target.searchParams.set('realmId', realmId);
    return reply.redirect(target.toString(), 302);
  });

  app.post('/oauth2/v1/tokens/bearer', async (request, reply) => {
    const form = formOrJson(request);
    const basic = basicCredentials(request);
    try {
      const client = admin.oauth.authenticateClient(basic.id ?? form.client_id, basic.secret ?? form.client_secret);
      if (form.grant_type === 'authorization_code') {
        const { realmId: _realmId, ...tokens } = admin.oauth.exchangeCode(client, form.code, form.redirect_uri);
        admin.onDirty();
        return reply.header('cache-control', 'no-store').send(tokens);
      }
      if (form.grant_type === 'refresh_token') {
        const tokens = admin.oauth.refresh(client, form.refresh_token);
        admin.onDirty();
        return reply.header('cache-control', 'no-store').send(tokens);
      }
      throw new OAuthError(
        400,
        'unsupported_grant_type',
        `grant_type ${form.grant_type ?? '(missing)'} is not supported`,
      );
    } catch (error) {
      if (error instanceof OAuthError) return oauthError(reply, error);
      throw error;
    }
  });

  // OpenID Connect userinfo (sandbox host path); the emulated user is the company's sandbox admin.
  app.get('/v1/openid_connect/userinfo', async (request, reply) => {
    const header = request.headers.authorization;
    const owner = admin.oauth.describeAccessToken(header ? /^Bearer\s+(\S+)/i.exec(header)?.[1] : undefined);
    if (!owner)
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="Intuit", error="invalid_token"')
        .send({ error: 'invalid_token' });
    return reply.send({
      sub: `emulator-user-${owner.realmId}`,
      email: `admin+${owner.realmId}@example.invalid`,
      emailVerified: true,
      givenName: 'Sandbox',
      familyName: 'Admin',
      phoneNumber: '+15555550100',
      phoneNumberVerified: false,
    });
  });

  app.post('/v2/oauth2/tokens/revoke', async (request, reply) => {
    const form = formOrJson(request);
    const basic = basicCredentials(request);
    try {
      admin.oauth.authenticateClient(basic.id ?? form.client_id, basic.secret ?? form.client_secret);
      if (!form.token) throw new OAuthError(400, 'invalid_request', 'token is required');
      admin.oauth.revoke(form.token);
      admin.onDirty();
      return reply.code(200).send();
    } catch (error) {
      if (error instanceof OAuthError) return oauthError(reply, error);
      throw error;
    }
  });
}

function authorizeProblem(client: App | undefined, q: Record<string, string | undefined>): string | undefined {
  if (!client) return `Unknown client_id ${q.client_id ?? '(missing)'}`;
  if (q.response_type !== 'code') return 'response_type must be "code"';
  if (!q.scope) return 'scope is required (com.intuit.quickbooks.accounting)';
  if (!q.redirect_uri) return 'redirect_uri is required';
  try {
    new URL(q.redirect_uri);
  } catch {
    return `redirect_uri ${q.redirect_uri} is not a URL`;
  }
  if (client.redirectUris.length > 0 && !client.redirectUris.includes(q.redirect_uri))
    return `redirect_uri ${q.redirect_uri} is not registered for this app`;
  return undefined;
}
