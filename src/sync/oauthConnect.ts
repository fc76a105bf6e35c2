// Connecting through the providers' OAuth pages, one side at a time (the dashboard's connect flow):
// 1. HighLevel: the agency installs the app on a location (choose-location page); the code becomes location
//    tokens and a connection for that location, waiting for its QuickBooks company (status 'pending');
// 2. QuickBooks: from the connection's card, with the toggles chosen first; the code becomes the company's
//    tokens, the company's country and currency are read, and the connection goes live from that moment.
// Reconnecting a revoked or disconnected connection goes through the same steps, one side at a time, and keeps its
// history; it is live again only once both sides hold working tokens.
import { HighLevelHttp } from '../highlevel/http.ts';
import { LocationsApi } from '../highlevel/locations.ts';
import { QuickBooksClient } from '../quickbooks/client.ts';
import { recordActivity } from '../store/activity.ts';
import type { Connection, ReviewRequestSettings } from '../store/connections.ts';
import type { Engine } from './engine.ts';
import { toStored } from './engine.ts';
import { SyncError } from './errors.ts';

const fixed = (token: string) => ({ accessToken: async () => token, refreshAfterUnauthorized: async () => token });

/**
 * HighLevel's authorization code -> a connection for the chosen location (new, or the one it had before). With
 * `connectionId` (Reconnect HighLevel on a connection's card) the code must be for that connection's location.
 */
export async function connectHighLevelFromCode(engine: Engine, code: string, connectionId?: string): Promise<Connection> {
  const tokens = await engine.hlOAuth.exchangeCode(code, 'Location');
  if (!tokens.locationId) {
    throw new SyncError('agency-install', 'HighLevel installed the app for the agency, not for one location', 'Install the app again and choose a sub-account (location)');
  }
  const location = await new LocationsApi(
    new HighLevelHttp({ baseUrl: engine.providers.highlevel.apiUrl, locationId: tokens.locationId, tokens: fixed(tokens.accessToken) }),
  ).get(tokens.locationId);
  const target = connectionId ? await engine.connections.require(connectionId) : undefined;
  if (target && target.hlLocationId !== tokens.locationId) {
    throw new SyncError(
      'other-location',
      `HighLevel authorised the location "${location.name ?? tokens.locationId}", but "${target.name}" syncs location ${target.hlLocationId ?? '(none)'}`,
      `Press Reconnect HighLevel again and choose the location of "${target.name}"`,
    );
  }
  const existing = target ?? (await engine.connections.findByLocation(tokens.locationId)).find((c) => c.status !== 'connected') ??
    (await engine.connections.findByLocation(tokens.locationId))[0];
  const connection = existing ?? (await engine.connections.create({ name: location.name ?? tokens.locationId }));
  await engine.connections.attachHighLevel(connection.id, {
    locationId: tokens.locationId,
    locationName: location.name ?? undefined,
    companyId: tokens.companyId ?? location.companyId,
    country: String(location.country ?? ''),
    tokens: {
      accessToken: tokens.accessToken,
      ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}),
      accessExpiresAt: tokens.expiresAt.toISOString(),
      scope: tokens.scopes.join(' '),
    },
  });
  if (tokens.userId) await engine.connections.updateSettings(connection.id, { highLevelUserId: tokens.userId });
  engine.forget(connection.id);
  await recordActivity(engine.db, {
    connectionId: connection.id, flow: 'connection', status: 'info',
    message: `HighLevel location "${location.name ?? tokens.locationId}" authorised ledgerlink${connection.qboRealmId ? '' : '; connect its QuickBooks company next'}`,
    detail: { locationId: tokens.locationId, scopes: tokens.scopes },
  });
  // A connection that lost only its HighLevel side (uninstalled, revoked, disconnected) is whole again if its
  // QuickBooks side still works; else it keeps waiting, now for QuickBooks only.
  if (connection.qboRealmId && connection.status !== 'connected') return goLive(engine, connection.id);
  // A location uninstalled before its QuickBooks company was connected waits for that company again.
  if (!connection.qboRealmId && connection.status === 'revoked') await engine.connections.setStatus(connection.id, 'pending', null);
  return engine.connections.require(connection.id);
}

/**
 * After a side was (re)connected: the connection goes live if both sides hold working tokens (activate), and then
 * the jobs that waited for it run and its imports carry on. While a side still needs a reconnect, they keep
 * waiting: run now, they would only stop again.
 */
async function goLive(engine: Engine, connectionId: string): Promise<Connection> {
  const live = await engine.connections.activate(connectionId);
  engine.forget(connectionId);
  if (live.status !== 'connected') return live;
  await engine.resumeStoppedJobs(connectionId);
  await engine.startInitialImports(live);
  return live;
}

/** QuickBooks' authorization code for a connection -> its company attached, and the connection live once both sides work. */
export async function connectQuickBooksFromCode(
  engine: Engine,
  connectionId: string,
  callback: { code: string; realmId: string },
  toggles: { importOldInvoices: boolean; reviewRequests: boolean; reviewRequest?: ReviewRequestSettings | undefined },
): Promise<Connection> {
  const connection = await engine.connections.require(connectionId);
  const clash = (await engine.connections.findByRealm(callback.realmId)).find((c) => c.id !== connectionId && c.hlLocationId === connection.hlLocationId);
  if (clash) {
    throw new SyncError('already-paired', `This QuickBooks company and HighLevel location are paired already in "${clash.name}"`, 'Open that connection instead, or choose another company');
  }
  const tokens = toStored(await engine.qboOAuth.exchangeCode(callback.code));
  const qbo = new QuickBooksClient({ baseUrl: engine.providers.quickbooks.apiUrl, realmId: callback.realmId, tokens: fixed(tokens.accessToken) });
  const [info, preferences] = await Promise.all([qbo.companyInfo(), qbo.preferences()]);
  const homeCurrency = (preferences as { CurrencyPrefs?: { HomeCurrency?: { value?: string } } }).CurrencyPrefs?.HomeCurrency?.value ?? 'USD';
  await engine.connections.attachQuickBooks(connectionId, { realmId: callback.realmId, companyName: typeof info.CompanyName === 'string' ? info.CompanyName : undefined, country: String(info.Country ?? 'US').toUpperCase(), homeCurrency, tokens });
  await engine.connections.updateToggles(connectionId, toggles);
  if (toggles.reviewRequest) await engine.connections.updateSettings(connectionId, { reviewRequest: toggles.reviewRequest });
  engine.forget(connectionId);
  await recordActivity(engine.db, {
    connectionId, flow: 'connection', status: 'info',
    message: `Connected QuickBooks company "${info.CompanyName ?? callback.realmId}" (${String(info.Country ?? 'US')}, ${homeCurrency})`,
    detail: { realmId: callback.realmId, importOldInvoices: toggles.importOldInvoices, reviewRequests: toggles.reviewRequests, ...(toggles.reviewRequest ? { reviewRequest: toggles.reviewRequest.method } : {}) },
  });
  // Every existing QuickBooks customer (and, when chosen, every old invoice) is brought into the CRM from here on,
  // once both sides work (goLive).
  return goLive(engine, connectionId);
}
