// Intuit OAuth 2.0 as the emulator plays it (reference §1): authorization codes (single use, 10 minutes), access
// tokens (3600 s), refresh tokens (rolling 100 days, rotated on every refresh; the previous one stays usable for a
// 24 h grace window), revocation of a whole connection (app x realm), and API token checks.
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const ACCESS_TOKEN_SECONDS = 3600;
export const REFRESH_TOKEN_SECONDS = 100 * 24 * 3600;
const REFRESH_GRACE_MS = 24 * 3600 * 1000;
const CODE_LIFETIME_MS = 10 * 60 * 1000;

export interface App {
  clientId: string;
  clientSecret: string;
  name: string;
  /** Allowed redirect URIs; empty means any (a developer sandbox convenience). */
  redirectUris: string[];
}

interface Grant {
  id: string;
  clientId: string;
  realmId: string;
  revoked: boolean;
}

interface TokenRecord {
  grantId: string;
  expiresAt: number;
  /** Refresh tokens: when a newer one replaced it (the grace window starts). */
  supersededAt?: number;
}

interface CodeRecord {
  clientId: string;
  realmId: string;
  redirectUri: string;
  expiresAt: number;
  used: boolean;
}

export interface TokenResponse {
  token_type: 'bearer';
  access_token: string;
  refresh_token: string;
  expires_in: number;
  x_refresh_token_expires_in: number;
}

export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error:
      | 'invalid_grant'
      | 'invalid_client'
      | 'invalid_request'
      | 'unsupported_grant_type'
      | 'unauthorized_client',
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

export type AccessCheck =
  | { ok: true; realmId: string; clientId: string }
  | { ok: false; status: 401 | 403; detail: string };

export interface OAuthSnapshot {
  apps: App[];
  grants: Grant[];
  accessTokens: Array<[string, TokenRecord]>;
  refreshTokens: Array<[string, TokenRecord]>;
}

export const DEFAULT_APP: App = {
  clientId: 'emulator-client-id',
  clientSecret: 'emulator-client-secret',
  name: 'Emulator App',
  redirectUris: [],
};

const token = (prefix: string, bytes = 24): string => `${prefix}${randomBytes(bytes).toString('base64url')}`;

export class OAuthStore {
  readonly apps = new Map<string, App>();
  private readonly grants = new Map<string, Grant>();
  private readonly accessTokens = new Map<string, TokenRecord>();
  private readonly refreshTokens = new Map<string, TokenRecord>();
  private readonly codes = new Map<string, CodeRecord>();
  private issued = 0;

  constructor(private readonly nowMs: () => number) {
    this.apps.set(DEFAULT_APP.clientId, { ...DEFAULT_APP });
  }

  registerApp(app: App): App {
    this.apps.set(app.clientId, app);
    return app;
  }

  /** Checks HTTP Basic client credentials; Intuit answers invalid_client (401) when they do not match. */
  authenticateClient(clientId: string | undefined, clientSecret: string | undefined): App {
    const app = clientId ? this.apps.get(clientId) : undefined;
    if (!app || clientSecret === undefined || !safeEqual(app.clientSecret, clientSecret)) {
      throw new OAuthError(401, 'invalid_client', 'Client authentication failed');
    }
    return app;
  }

  issueCode(clientId: string, realmId: string, redirectUri: string): string {
    const code = token('AB11', 18);
    this.codes.set(code, { clientId, realmId, redirectUri, expiresAt: this.nowMs() + CODE_LIFETIME_MS, used: false });
    return code;
  }

  exchangeCode(
    app: App,
    code: string | undefined,
    redirectUri: string | undefined,
  ): TokenResponse & { realmId: string } {
    if (!code) throw new OAuthError(400, 'invalid_request', 'code is required');
    const record = this.codes.get(code);
    if (!record || record.used || record.expiresAt <= this.nowMs() || record.clientId !== app.clientId) {
      throw new OAuthError(400, 'invalid_grant', 'Authorization code is invalid, expired or already used');
    }
    if (redirectUri !== record.redirectUri)
      throw new OAuthError(400, 'invalid_grant', 'redirect_uri does not match the one used to authorize');
    record.used = true;
    this.codes.delete(code);
    const grant = this.grantFor(app.clientId, record.realmId);
    return { ...this.issueTokens(grant), realmId: record.realmId };
  }

  refresh(app: App, refreshToken: string | undefined): TokenResponse {
    if (!refreshToken) throw new OAuthError(400, 'invalid_request', 'refresh_token is required');
    const record = this.refreshTokens.get(refreshToken);
    const grant = record ? this.grants.get(record.grantId) : undefined;
    const now = this.nowMs();
    if (!record || !grant || grant.revoked || grant.clientId !== app.clientId || record.expiresAt <= now) {
      throw new OAuthError(400, 'invalid_grant', 'Incorrect or invalid refresh token');
    }
    if (record.supersededAt !== undefined && now - record.supersededAt > REFRESH_GRACE_MS) {
      throw new OAuthError(
        400,
        'invalid_grant',
        'Incorrect or invalid refresh token (it was replaced by a newer one more than 24 hours ago)',
      );
    }
    record.supersededAt ??= now;
    return this.issueTokens(grant);
  }

  /** Revoking either token disconnects the app from that realm (reference §1.4). Unknown tokens are ignored. */
  revoke(tokenValue: string): boolean {
    const record = this.accessTokens.get(tokenValue) ?? this.refreshTokens.get(tokenValue);
    const grant = record ? this.grants.get(record.grantId) : undefined;
    if (!grant) return false;
    grant.revoked = true;
    return true;
  }

  revokeRealm(realmId: string): number {
    let count = 0;
    for (const grant of this.grants.values())
      if (grant.realmId === realmId && !grant.revoked) {
        grant.revoked = true;
        count++;
      }
    return count;
  }

  /** A token pair for a realm without the browser (admin API). */
  mint(realmId: string, clientId = DEFAULT_APP.clientId): TokenResponse {
    return this.issueTokens(this.grantFor(clientId, realmId));
  }

  checkAccess(accessToken: string | undefined, realmId: string): AccessCheck {
    if (!accessToken) return { ok: false, status: 401, detail: 'Token missing: no Authorization Bearer header' };
    const record = this.accessTokens.get(accessToken);
    const grant = record ? this.grants.get(record.grantId) : undefined;
    if (!record || !grant)
      return { ok: false, status: 401, detail: 'Token invalid: the access token is not recognised' };
    if (grant.revoked)
      return { ok: false, status: 401, detail: 'Token revoked: the app was disconnected from this company' };
    if (record.expiresAt <= this.nowMs())
      return { ok: false, status: 401, detail: `Token expired: ${accessToken.slice(0, 12)}...` };
    if (grant.realmId !== realmId)
      return {
        ok: false,
        status: 403,
        detail: `The access token was issued for another company, not realm ${realmId}`,
      };
    return { ok: true, realmId, clientId: grant.clientId };
  }

  /** The realm and app behind a live access token (OpenID userinfo), or undefined. */
  describeAccessToken(accessToken: string | undefined): { realmId: string; clientId: string } | undefined {
    const record = accessToken ? this.accessTokens.get(accessToken) : undefined;
    const grant = record ? this.grants.get(record.grantId) : undefined;
    if (!record || !grant || grant.revoked || record.expiresAt <= this.nowMs()) return undefined;
    return { realmId: grant.realmId, clientId: grant.clientId };
  }

  /** The (app, realm) connection of an access token, for fault injection that revokes it. */
  revokeAccessToken(accessToken: string): void {
    this.revoke(accessToken);
  }

  snapshot(): OAuthSnapshot {
    this.prune();
    return {
      apps: [...this.apps.values()],
      grants: [...this.grants.values()],
      accessTokens: [...this.accessTokens],
      refreshTokens: [...this.refreshTokens],
    };
  }

  restore(snapshot: OAuthSnapshot): void {
    for (const app of snapshot.apps) this.apps.set(app.clientId, app);
    for (const grant of snapshot.grants) this.grants.set(grant.id, grant);
    for (const [k, v] of snapshot.accessTokens) this.accessTokens.set(k, v);
    for (const [k, v] of snapshot.refreshTokens) this.refreshTokens.set(k, v);
  }

  private grantFor(clientId: string, realmId: string): Grant {
    for (const grant of this.grants.values())
      if (grant.clientId === clientId && grant.realmId === realmId && !grant.revoked) return grant;
    const grant: Grant = { id: token('g', 9), clientId, realmId, revoked: false };
    this.grants.set(grant.id, grant);
    return grant;
  }

  private issueTokens(grant: Grant): TokenResponse {
    const now = this.nowMs();
    const access = token('eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..', 48);
    const refresh = token('RT1-', 30);
    this.accessTokens.set(access, { grantId: grant.id, expiresAt: now + ACCESS_TOKEN_SECONDS * 1000 });
    for (const [value, record] of this.refreshTokens)
      if (record.grantId === grant.id && record.supersededAt === undefined && value !== refresh)
        record.supersededAt = now;
    this.refreshTokens.set(refresh, { grantId: grant.id, expiresAt: now + REFRESH_TOKEN_SECONDS * 1000 });
    if (++this.issued % 500 === 0) this.prune();
    return {
      token_type: 'bearer',
      access_token: access,
      refresh_token: refresh,
      expires_in: ACCESS_TOKEN_SECONDS,
      x_refresh_token_expires_in: REFRESH_TOKEN_SECONDS,
    };
  }

  /** Memory grows with live tokens only: expired and long-superseded ones are forgotten. */
  private prune(): void {
    const now = this.nowMs();
    for (const [k, v] of this.accessTokens) if (v.expiresAt <= now) this.accessTokens.delete(k);
    for (const [k, v] of this.refreshTokens)
      if (v.expiresAt <= now || (v.supersededAt !== undefined && now - v.supersededAt > REFRESH_GRACE_MS))
        this.refreshTokens.delete(k);
    for (const [k, v] of this.codes) if (v.expiresAt <= now) this.codes.delete(k);
  }
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
