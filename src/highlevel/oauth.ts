// HighLevel marketplace OAuth (reference §1.3): choose-location authorize page, form-encoded token
// endpoint with client credentials in the body, and location tokens minted from an agency token.
import { z } from 'zod';
import { HighLevelError, errorBodySchema } from './errors.ts';
import { API_VERSION, HIGHLEVEL_API_URL } from './http.ts';

export const HIGHLEVEL_MARKETPLACE_URL = 'https://marketplace.gohighlevel.com';

/** Scopes ledgerlink asks for (reference §1.4). */
export const LEDGERLINK_SCOPES = [
  'contacts.readonly',
  'contacts.write',
  'invoices.readonly',
  'invoices.write',
  'payments/orders.readonly',
  'payments/transactions.readonly',
  'payments/subscriptions.readonly',
  'locations.readonly',
  'locations/customFields.readonly',
  'locations/customFields.write',
  'conversations/message.write',
  'workflows.readonly',
  'products.readonly',
] as const;

export interface HighLevelOAuthOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scopes?: readonly string[];
  /** Host of the choose-location page (white-label: https://marketplace.leadconnectorhq.com). */
  marketplaceUrl?: string;
  /** API host serving /oauth/token. */
  apiUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number(),
  refresh_token: z.string().optional(),
  scope: z.string().optional(),
  userType: z.string().optional(),
  locationId: z.string().optional(),
  companyId: z.string().optional(),
  userId: z.string().optional(),
  approvedLocations: z.array(z.string()).optional(),
});

const oauthErrorSchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });

export interface HighLevelTokens {
  accessToken: string;
  /** Absent on location tokens minted from an agency token. */
  refreshToken: string | undefined;
  expiresAt: Date;
  scopes: string[];
  userType: 'Location' | 'Company' | string | undefined;
  locationId: string | undefined;
  companyId: string | undefined;
  userId: string | undefined;
}

export class HighLevelOAuth {
  private readonly marketplaceUrl: string;
  private readonly apiUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: HighLevelOAuthOptions) {
    this.marketplaceUrl = (options.marketplaceUrl ?? HIGHLEVEL_MARKETPLACE_URL).replace(/\/+$/, '');
    this.apiUrl = (options.apiUrl ?? HIGHLEVEL_API_URL).replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The choose-location page; `state` is bound to the browser session and checked on return. */
  authorizeUrl(state: string): string {
    const url = new URL(`${this.marketplaceUrl}/v2/oauth/chooselocation`);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('redirect_uri', this.options.redirectUri);
    url.searchParams.set('client_id', this.options.clientId);
    url.searchParams.set('scope', (this.options.scopes ?? LEDGERLINK_SCOPES).join(' '));
    url.searchParams.set('state', state);
    return url.toString();
  }

  exchangeCode(code: string, userType: 'Location' | 'Company' = 'Location'): Promise<HighLevelTokens> {
    return this.tokenRequest({
      grant_type: 'authorization_code',
      code,
      user_type: userType,
      redirect_uri: this.options.redirectUri,
    });
  }

  /** HighLevel rotates the refresh token on every use: store the new one before using the access token. */
  refresh(refreshToken: string, userType: 'Location' | 'Company' = 'Location'): Promise<HighLevelTokens> {
    return this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, user_type: userType });
  }

  /** A location token from an agency (Company) token, for bulk installs. It carries no refresh token. */
  async locationToken(agencyAccessToken: string, companyId: string, locationId: string): Promise<HighLevelTokens> {
    const response = await this.post('/oauth/locationToken', new URLSearchParams({ companyId, locationId }), {
      Authorization: `Bearer ${agencyAccessToken}`,
      Version: API_VERSION,
    });
    return this.readTokens(response, 'location token');
  }

  private async tokenRequest(form: Record<string, string>): Promise<HighLevelTokens> {
    const body = new URLSearchParams({
      client_id: this.options.clientId,
      client_secret: this.options.clientSecret,
      ...form,
    });
    const response = await this.post('/oauth/token', body, {});
    return this.readTokens(response, form.grant_type ?? 'token');
  }

  private post(path: string, body: URLSearchParams, headers: Record<string, string>): Promise<Response> {
    return this.fetchImpl(`${this.apiUrl}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }

  private async readTokens(response: Response, operation: string): Promise<HighLevelTokens> {
    const sentAt = Date.now();
    const json: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      // Either OAuth-shaped {error, error_description} or HighLevel's {statusCode, message}; never echo tokens.
      const oauth = oauthErrorSchema.safeParse(json);
      const api = errorBodySchema.safeParse(json);
      throw new HighLevelError({
        status: response.status,
        code: oauth.success ? oauth.data.error : undefined,
        message: oauth.success
          ? `HighLevel ${operation} failed: ${oauth.data.error}${oauth.data.error_description ? ` (${oauth.data.error_description})` : ''}`
          : ((api.success ? api.data.message : undefined) ??
            `HighLevel ${operation} failed with HTTP ${response.status}`),
      });
    }
    const parsed = tokenResponseSchema.safeParse(json);
    if (!parsed.success) {
      throw new HighLevelError({
        status: response.status,
        code: 'invalid_response',
        message: `HighLevel ${operation} answered an unexpected body`,
      });
    }
    const t = parsed.data;
    return {
      accessToken: t.access_token,
      refreshToken: t.refresh_token,
      expiresAt: new Date(sentAt + t.expires_in * 1000),
      scopes: (t.scope ?? '').split(' ').filter((s) => s !== ''),
      userType: t.userType,
      locationId: t.locationId,
      companyId: t.companyId,
      userId: t.userId,
    };
  }
}
