// Creating a connection: after both OAuth round trips, or from existing tokens (CLI, API, tests and the demo).
// Both sides are checked with the tokens before the connection goes live: the QuickBooks company's country and
// currency decide the tax model; the HighLevel location must answer. A company or a location that another live
// connection has is refused (AccountInUseError) before either is asked.
import { z } from 'zod';
import { recordActivity } from '../../store/activity.ts';
import { reviewRequestMechanismSchema, type Connection, type OAuthTokens } from '../../store/connections.ts';
import { HighLevelClient } from '../../highlevel/client.ts';
import { checkedReviewRequest } from '../flows/reviewRequests.ts';
import { QuickBooksClient } from '../../quickbooks/client.ts';
import { HighLevelHttp } from '../../highlevel/http.ts';
import { LocationsApi } from '../../highlevel/locations.ts';
import type { Engine } from '../engine/engine.ts';
import { CONNECTION_ACTIVITY } from '../engine/flow.ts';

export const tokensInputSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  /** Seconds the access token has left (QuickBooks: 3600, HighLevel: 86399). */
  expiresIn: z.number().int().positive().optional(),
});

export const connectWithTokensSchema = z.object({
  name: z.string().min(1).max(200),
  quickbooks: tokensInputSchema.extend({ realmId: z.string().min(1) }),
  highlevel: tokensInputSchema.extend({
    locationId: z.string().min(1),
    companyId: z.string().optional(),
    /** The `userId` HighLevel's token answer named (the user who authorised the app). */
    userId: z.string().min(1).optional(),
  }),
  importOldInvoices: z.boolean().default(false),
  reviewRequests: z.boolean().default(false),
  paymentsFromQuickBooks: z.boolean().default(true),
  /** How review requests are sent; absent: a direct SMS/email (a new location has no workflow to enrol into). */
  reviewRequest: reviewRequestMechanismSchema.optional(),
});
export type ConnectWithTokens = z.input<typeof connectWithTokensSchema>;

function stored(input: z.infer<typeof tokensInputSchema>, defaultSeconds: number): OAuthTokens {
  return {
    accessToken: input.accessToken,
    ...(input.refreshToken ? { refreshToken: input.refreshToken } : {}),
    accessExpiresAt: new Date(Date.now() + (input.expiresIn ?? defaultSeconds) * 1000).toISOString(),
  };
}

/** A static token source for the first checks, before the tokens are in the store. */
const fixed = (token: string) => ({ accessToken: async () => token, refreshAfterUnauthorized: async () => token });

export async function connectWithTokens(engine: Engine, raw: ConnectWithTokens): Promise<Connection> {
  const input = connectWithTokensSchema.parse(raw);
  // A company or a location another live connection has is refused before anything is asked or stored.
  await engine.connections.assertAccountsFree(null, {
    realmId: input.quickbooks.realmId,
    locationId: input.highlevel.locationId,
  });
  const providers = engine.providers;
  const qbo = new QuickBooksClient({
    baseUrl: providers.quickbooks.apiUrl,
    realmId: input.quickbooks.realmId,
    tokens: fixed(input.quickbooks.accessToken),
  });
  const [info, preferences] = await Promise.all([qbo.companyInfo(), qbo.preferences()]);
  const homeCurrency =
    (preferences as { CurrencyPrefs?: { HomeCurrency?: { value?: string } } }).CurrencyPrefs?.HomeCurrency?.value ??
    'USD';
  const hlHttp = new HighLevelHttp({
    baseUrl: providers.highlevel.apiUrl,
    locationId: input.highlevel.locationId,
    tokens: fixed(input.highlevel.accessToken),
  });
  const location = await new LocationsApi(hlHttp).get(input.highlevel.locationId);
  const reviewRequest = input.reviewRequest
    ? await checkedReviewRequest(new HighLevelClient(hlHttp), input.reviewRequest)
    : undefined;

  const connection = await engine.connections.create({
    name: input.name,
    importOldInvoices: input.importOldInvoices,
    reviewRequests: input.reviewRequests,
    paymentsFromQuickBooks: input.paymentsFromQuickBooks,
    ...(reviewRequest || input.highlevel.userId
      ? {
          settings: {
            ...(reviewRequest ? { reviewRequest } : {}),
            ...(input.highlevel.userId ? { highLevelUserId: input.highlevel.userId } : {}),
          },
        }
      : {}),
  });
  await engine.connections.attachQuickBooks(connection.id, {
    realmId: input.quickbooks.realmId,
    country: String(info.Country ?? 'US').toUpperCase(),
    homeCurrency,
    companyName: typeof info.CompanyName === 'string' ? info.CompanyName : null,
    tokens: stored(input.quickbooks, 3600),
  });
  await engine.connections.attachHighLevel(connection.id, {
    locationId: input.highlevel.locationId,
    locationName: location.name ?? undefined,
    companyId: input.highlevel.companyId ?? location.companyId,
    country: String(location.country ?? ''),
    tokens: stored(input.highlevel, 86_399),
  });
  const live = await engine.connections.activate(connection.id);
  await recordActivity(engine.db, {
    connectionId: live.id,
    flow: CONNECTION_ACTIVITY,
    status: 'info',
    message: `Connected HighLevel location "${location.name ?? input.highlevel.locationId}" to QuickBooks company "${info.CompanyName ?? input.quickbooks.realmId}"`,
    detail: {
      realmId: input.quickbooks.realmId,
      locationId: input.highlevel.locationId,
      country: info.Country ?? null,
      homeCurrency,
    },
  });
  await engine.startInitialImports(live);
  return live;
}
