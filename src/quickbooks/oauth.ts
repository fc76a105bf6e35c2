// QuickBooks OAuth 2.0 (reference §1), written over fetch instead of intuit-oauth: see
// docs/decisions.md "Why our own OAuth and HTTP clients". Endpoints are options so the emulator's serve.
import { z } from 'zod';
import { QuickBooksError } from './errors.ts';

export const QUICKBOOKS_ACCOUNTING_SCOPE = 'com.intuit.quickbooks.accounting';

export interface QuickBooksOAuthEndpoints {
  authorizeUrl: string;
  tokenUrl: string;
  revokeUrl: string;
}

export const INTUIT_OAUTH_ENDPOINTS: QuickBooksOAuthEndpoints = {
  authorizeUrl: 'https://appcenter.intuit.com/connect/oauth2',
  tokenUrl: 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer',
  revokeUrl: 'https://developer.api.intuit.com/v2/oauth2/tokens/revoke',
};

export interface QuickBooksOAuthOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  endpoints?: Partial<QuickBooksOAuthEndpoints>;
  scopes?: readonly string[];
  fetch?: typeof fetch;
  timeoutMs?: number;
}

const tokenResponseSchema = z.looseObject({
  token_type: z.string().optional(),
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  expires_in: z.coerce.number(),
  x_refresh_token_expires_in: z.coerce.number().optional(),
  x_refresh_token_hard_expires_in: z.coerce.number().optional(),
  id_token: z.string().optional(),
});

const oauthErrorSchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });

export interface QuickBooksTokens {
  accessToken: string;
  refreshToken: string;
  /** Absolute times computed from the answer's lifetimes at the moment it arrived. */
  accessTokenExpiresAt: Date;
  refreshTokenExpiresAt: Date | undefined;
  /** The 5-year absolute limit, when Intuit reports it. */
  refreshTokenHardExpiresAt: Date | undefined;
}

/** What the redirect_uri receives: code, state and the company's realmId (not in the token answer). */
export interface QuickBooksCallback {
  code: string;
  state: string;
  realmId: string;
}

export class QuickBooksOAuth {
  private readonly endpoints: QuickBooksOAuthEndpoints;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly scopes: readonly string[];

  constructor(private readonly options: QuickBooksOAuthOptions) {
    this.endpoints = { ...INTUIT_OAUTH_ENDPOINTS, ...options.endpoints };
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.scopes = options.scopes ?? [QUICKBOOKS_ACCOUNTING_SCOPE];
  }

  /** The URL to send the browser to; `state` must be bound to the user's session and checked on return. */
  authorizeUrl(state: string): string {
    const url = new URL(this.endpoints.authorizeUrl);
    url.searchParams.set('client_id', this.options.clientId);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('scope', this.scopes.join(' '));
    url.searchParams.set('redirect_uri', this.options.redirectUri);
    url.searchParams.set('state', state);
    return url.toString();
  }

  /** Reads the callback query; an `error` parameter (e.g. access_denied) becomes a thrown error. */
  parseCallback(callbackUrl: string | URL): QuickBooksCallback {
    const params = new URL(callbackUrl).searchParams;
    const error = params.get('error');
    if (error)
      throw new QuickBooksError({ code: error, message: `QuickBooks authorization failed: ${error}`, status: 0 });
    const code = params.get('code');
    const state = params.get('state');
    const realmId = params.get('realmId');
    if (!code || !state || !realmId) {
      throw new QuickBooksError({
        code: 'invalid_callback',
        message: 'QuickBooks callback lacks code, state or realmId',
        status: 0,
      });
    }
    return { code, state, realmId };
  }

  exchangeCode(code: string): Promise<QuickBooksTokens> {
    return this.tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: this.options.redirectUri });
  }

  /** Intuit may rotate the refresh token on any refresh: always store the one returned. */
  refresh(refreshToken: string): Promise<QuickBooksTokens> {
    return this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  /** Revoking either token disconnects the app from the realm. */
  async revoke(token: string): Promise<void> {
    const response = await this.post(this.endpoints.revokeUrl, new URLSearchParams({ token }));
    if (!response.ok) throw await this.oauthError(response, 'revoke');
  }

  private async tokenRequest(form: Record<string, string>): Promise<QuickBooksTokens> {
    const sentAt = Date.now();
    const response = await this.post(this.endpoints.tokenUrl, new URLSearchParams(form));
    if (!response.ok) throw await this.oauthError(response, form.grant_type ?? 'token');
    const parsed = tokenResponseSchema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) {
      throw new QuickBooksError({
        code: 'invalid_response',
        message: 'QuickBooks token endpoint answered an unexpected body',
        status: response.status,
      });
    }
    const t = parsed.data;
    const at = (seconds: number | undefined): Date | undefined =>
      seconds === undefined ? undefined : new Date(sentAt + seconds * 1000);
    return {
      accessToken: t.access_token,
      refreshToken: t.refresh_token,
      accessTokenExpiresAt: new Date(sentAt + t.expires_in * 1000),
      refreshTokenExpiresAt: at(t.x_refresh_token_expires_in),
      refreshTokenHardExpiresAt: at(t.x_refresh_token_hard_expires_in),
    };
  }

  private post(url: string, body: URLSearchParams): Promise<Response> {
    const basic = Buffer.from(`${this.options.clientId}:${this.options.clientSecret}`).toString('base64');
    return this.fetchImpl(url, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${basic}`,
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
        // Opt in to the 5-year hard expiry field (reference §1.4).
        'x-include-refresh-token-hard-expires-in': 'true',
      },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }

  // Token errors are OAuth-shaped ({error, error_description}); never echo the tokens themselves.
  private async oauthError(response: Response, operation: string): Promise<QuickBooksError> {
    const body = oauthErrorSchema.safeParse(await response.json().catch(() => undefined));
    return new QuickBooksError({
      code: body.success ? body.data.error : `http_${response.status}`,
      message: `QuickBooks ${operation} failed`,
      detail: body.success ? body.data.error_description : undefined,
      status: response.status,
      intuitTid: response.headers.get('intuit_tid') ?? response.headers.get('intuit-tid') ?? undefined,
    });
  }
}
