// Marketplace-app OAuth (docs/oauth/Authorization.md, apps/oauth.json) and private-integration tokens.
// Access tokens last ~1 day (expires_in 86399); refresh tokens last a year until used and are single use:
// each refresh returns a new pair and the old refresh token stops working.
import { randomBytes } from 'node:crypto';
import { ACCESS_TOKEN_TTL_S, ALL_SCOPES, REFRESH_TOKEN_TTL_MS, type HighLevelCore } from './core.ts';
import { INVALID_TOKEN, unauthorized } from './errors.ts';
import { alphanumericId, uuid } from './ids.ts';
import type { TokenGrant, UserType } from './model.ts';

export interface MintInput {
  userType: UserType;
  companyId: string;
  locationId: string | null;
  scopes?: string[] | undefined;
  userId?: string | undefined;
  approvedLocations?: string[] | undefined;
  withRefresh?: boolean | undefined;
}

export interface TokenPair {
  access: TokenGrant;
  refresh: TokenGrant | null;
}

/** Real tokens are JWTs (eyJ...); these carry similar claims so clients that peek at them see familiar data. */
function jwtLike(claims: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${header}.${body}.${randomBytes(32).toString('base64url')}`;
}

export class AuthService {
  constructor(private readonly core: HighLevelCore) {}

  mint(input: MintInput): TokenPair {
    const now = this.core.nowMs();
    const scopes = input.scopes ?? ALL_SCOPES;
    const userId = input.userId ?? alphanumericId();
    const base = {
      userType: input.userType,
      companyId: input.companyId,
      locationId: input.locationId,
      approvedLocations: input.approvedLocations ?? (input.locationId ? [input.locationId] : []),
      scopes,
      clientId: this.core.app.clientId,
      appId: this.core.app.appId,
      userId,
      revoked: false,
      usedAt: null,
      createdAt: now,
    };
    const claims = {
      authClass: input.userType,
      authClassId: input.locationId ?? input.companyId,
      source: 'INTEGRATION',
      sourceId: this.core.app.clientId,
      channel: 'OAUTH',
      primaryAuthClassId: input.locationId ?? input.companyId,
      oauthMeta: { scopes, client: this.core.app.appId, versionId: this.core.app.versionId },
      iat: Math.floor(now / 1000),
      exp: Math.floor(now / 1000) + ACCESS_TOKEN_TTL_S,
      jti: uuid(),
    };
    const access: TokenGrant = {
      ...base,
      token: jwtLike(claims),
      kind: 'access',
      expiresAt: now + ACCESS_TOKEN_TTL_S * 1000,
    };
    this.core.store.tokens.set(access.token, access);
    let refresh: TokenGrant | null = null;
    if (input.withRefresh !== false) {
      refresh = {
        ...base,
        token: jwtLike({ ...claims, exp: Math.floor((now + REFRESH_TOKEN_TTL_MS) / 1000), jti: uuid() }),
        kind: 'refresh',
        expiresAt: now + REFRESH_TOKEN_TTL_MS,
      };
      this.core.store.tokens.set(refresh.token, refresh);
    }
    return { access, refresh };
  }

  /** A private-integration token: static, no refresh, chosen scopes, prefix `pit-`. */
  mintPrivateIntegrationToken(input: {
    locationId: string | null;
    companyId: string;
    scopes?: string[] | undefined;
  }): TokenGrant {
    const grant: TokenGrant = {
      token: `pit-${uuid()}`,
      kind: 'pit',
      userType: input.locationId ? 'Location' : 'Company',
      companyId: input.companyId,
      locationId: input.locationId,
      approvedLocations: input.locationId ? [input.locationId] : [],
      scopes: input.scopes ?? ALL_SCOPES,
      clientId: 'private-integration',
      appId: 'private-integration',
      userId: alphanumericId(),
      expiresAt: null,
      revoked: false,
      usedAt: null,
      createdAt: this.core.nowMs(),
    };
    this.core.store.tokens.set(grant.token, grant);
    return grant;
  }

  /** The grant behind an `Authorization: Bearer` header, or a 401 with HighLevel's message. */
  authenticate(header: string | undefined): TokenGrant {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) throw unauthorized(INVALID_TOKEN);
    const grant = this.core.store.tokens.get(match[1]!);
    if (!grant || grant.kind === 'refresh' || grant.revoked) throw unauthorized(INVALID_TOKEN);
    if (grant.expiresAt !== null && grant.expiresAt <= this.core.nowMs()) throw unauthorized(INVALID_TOKEN);
    return grant;
  }

  revoke(token: string): boolean {
    const grant = this.core.store.tokens.get(token);
    if (!grant) return false;
    grant.revoked = true;
    return true;
  }

  /** Revokes every token of a location (uninstall) or all tokens. */
  revokeWhere(predicate: (g: TokenGrant) => boolean): number {
    let n = 0;
    for (const g of this.core.store.tokens.values()) {
      if (!g.revoked && predicate(g)) {
        g.revoked = true;
        n++;
      }
    }
    return n;
  }

  tokenResponse(pair: TokenPair): Record<string, unknown> {
    const { access, refresh } = pair;
    const body: Record<string, unknown> = {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_TTL_S,
      scope: access.scopes.join(' '),
      refreshTokenId: refresh ? uuid().replace(/-/g, '').slice(0, 24) : undefined,
      userType: access.userType,
      companyId: access.companyId,
      userId: access.userId,
      planId: undefined,
    };
    if (refresh) body.refresh_token = refresh.token;
    if (access.locationId) body.locationId = access.locationId;
    if (access.userType === 'Company') {
      body.approvedLocations = access.approvedLocations;
      body.isBulkInstallation = access.approvedLocations.length > 1;
      body.installToFutureLocations = false;
      body.approveAllLocations = false;
    }
    return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
  }
}
