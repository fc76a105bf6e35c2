// Connecting through the providers' OAuth pages, one side at a time (the dashboard's connect flow):
// 1. HighLevel: the agency installs the app on a location (choose-location page); the code becomes location
//    tokens and a connection for that location, waiting for its QuickBooks company (status 'pending');
// 2. QuickBooks: from the connection's card, with the toggles chosen first; the code becomes the company's
//    tokens, the company's country and currency are read, and the connection goes live from that moment.
// Reconnecting a revoked or disconnected connection goes through the same steps, one side at a time, and keeps its
// history; it is live again only once both sides hold working tokens. A company or a location belongs to one live
// connection: another connection's is refused (AccountInUseError) before the code is exchanged; a company other than
// the one the connection had is switched to only once the person confirms it.
import { HighLevelHttp } from '../../highlevel/http.ts';
import { LocationsApi } from '../../highlevel/locations.ts';
import { QuickBooksClient } from '../../quickbooks/client.ts';
import { recordActivity } from '../../store/activity.ts';
import type { Connection, OAuthTokens, ReviewRequestSettings } from '../../store/connections.ts';
import { CDC_CURSOR } from '../services/changeCapture.ts';
import { CUSTOMER_IMPORT_CURSOR } from '../flows/contactImport.ts';
import { CUSTOMER_INDEX_CURSOR } from '../services/customerIndex.ts';
import { INVOICE_IMPORT_CURSOR } from '../flows/invoiceImport.ts';
import { HISTORY_CURSOR, HISTORY_DRY_RUN_CURSOR, HISTORY_FLOW, queueHistoryDryRun } from '../flows/history.ts';
import { SYNC_START_CURSOR } from '../services/syncStart.ts';
import type { Engine } from '../engine/engine.ts';
import { toStored } from '../engine/engine.ts';
import { describeError, SyncError } from '../engine/errors.ts';
import { CONNECTION_ACTIVITY } from '../engine/flow.ts';

const fixed = (token: string) => ({ accessToken: async () => token, refreshAfterUnauthorized: async () => token });

/**
 * HighLevel's authorization code -> a connection for the chosen location (new, or the one it had before). With
 * `connectionId` (Reconnect HighLevel on a connection's card) the code must be for that connection's location.
 */
export async function connectHighLevelFromCode(
  engine: Engine,
  code: string,
  connectionId?: string,
): Promise<Connection> {
  const tokens = await engine.hlOAuth.exchangeCode(code, 'Location');
  if (!tokens.locationId) {
    throw new SyncError(
      'agency-install',
      'HighLevel installed the app for the agency, not for one location',
      'Install the app again and choose a sub-account (location)',
    );
  }
  const location = await new LocationsApi(
    new HighLevelHttp({
      baseUrl: engine.providers.highlevel.apiUrl,
      locationId: tokens.locationId,
      tokens: fixed(tokens.accessToken),
    }),
  ).get(tokens.locationId);
  const target = connectionId ? await engine.connections.require(connectionId) : undefined;
  if (target && target.hlLocationId !== tokens.locationId) {
    throw new SyncError(
      'other-location',
      `HighLevel authorised the location "${location.name ?? tokens.locationId}", but "${target.name}" syncs location ${target.hlLocationId ?? '(none)'}`,
      `Press Reconnect HighLevel again and choose the location of "${target.name}"`,
    );
  }
  // A location belongs to one live connection: that one is reconnected; without one, the latest disconnected
  // connection of the location takes it back with its history.
  const known = await engine.connections.findByLocation(tokens.locationId);
  const existing = target ?? known.find((c) => c.status !== 'disconnected') ?? known.at(-1);
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
    connectionId: connection.id,
    flow: CONNECTION_ACTIVITY,
    status: 'info',
    message: `HighLevel location "${location.name ?? tokens.locationId}" authorised ledgerlink${connection.qboRealmId ? '' : '; connect its QuickBooks company next'}`,
    detail: { locationId: tokens.locationId, scopes: tokens.scopes },
  });
  // A connection that lost only its HighLevel side (uninstalled, revoked, disconnected) is whole again if its
  // QuickBooks side still works; else it keeps waiting, now for QuickBooks only.
  if (connection.qboRealmId && connection.status !== 'connected') return goLive(engine, connection.id);
  // A location uninstalled before its QuickBooks company was connected waits for that company again.
  if (!connection.qboRealmId && connection.status === 'revoked')
    await engine.connections.setStatus(connection.id, 'pending', null);
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

/** A QuickBooks company as read right after its consent: the tokens and what decides the tax model. */
export interface AuthorisedCompany {
  realmId: string;
  name: string | null;
  country: string;
  homeCurrency: string;
  tokens: OAuthTokens;
}

export type QuickBooksCallbackOutcome =
  | { kind: 'connected'; connection: Connection }
  /** The person chose another company than the connection had: nothing is changed until they confirm (switchQuickBooksCompany). */
  | { kind: 'confirm-switch'; connection: Connection; company: AuthorisedCompany };

/** The cursors that belong to the QuickBooks company (its imports, its change capture, the index of its customers). */
export const COMPANY_CURSORS = [
  CUSTOMER_IMPORT_CURSOR,
  INVOICE_IMPORT_CURSOR,
  CDC_CURSOR,
  CUSTOMER_INDEX_CURSOR,
  // History from a date was brought into that company: another one starts from its own connection time.
  HISTORY_CURSOR,
  HISTORY_DRY_RUN_CURSOR,
  SYNC_START_CURSOR,
] as const;

type Toggles = {
  importOldInvoices: boolean;
  reviewRequests: boolean;
  paymentsFromQuickBooks?: boolean | undefined;
  reviewRequest?: ReviewRequestSettings | undefined;
  /** History from this day (YYYY-MM-DD), chosen on the connect form. */
  historyFrom?: string | undefined;
};

/**
 * QuickBooks' authorization code for a connection -> its company attached and the connection live; or, when the
 * company is not the one the connection had, the company read and held back for the person to confirm the switch.
 */
export async function connectQuickBooksFromCode(
  engine: Engine,
  connectionId: string,
  callback: { code: string; realmId: string },
  toggles: Toggles,
): Promise<QuickBooksCallbackOutcome> {
  const connection = await engine.connections.require(connectionId);
  // Checked before the code is exchanged: a refusal leaves no tokens behind, so nothing needs revoking (and a
  // revocation would end the access of the connection that has the company: Intuit's grant is per app and company).
  await engine.connections.assertAccountsFree(connectionId, {
    realmId: callback.realmId,
    locationId: connection.hlLocationId ?? undefined,
  });
  const clash = (await engine.connections.findByRealm(callback.realmId)).find(
    (c) => c.id !== connectionId && c.hlLocationId === connection.hlLocationId,
  );
  if (clash) {
    throw new SyncError(
      'already-paired',
      `This QuickBooks company and HighLevel location are paired already in "${clash.name}"`,
      'Open that connection instead, or choose another company',
    );
  }
  const company = await readAuthorisedCompany(engine, callback);
  if (connection.qboRealmId && connection.qboRealmId !== callback.realmId)
    return { kind: 'confirm-switch', connection, company };
  await engine.connections.attachQuickBooks(connectionId, {
    realmId: company.realmId,
    country: company.country,
    homeCurrency: company.homeCurrency,
    companyName: company.name,
    tokens: company.tokens,
  });
  await applyToggles(engine, connectionId, toggles);
  engine.forget(connectionId);
  await recordActivity(engine.db, {
    connectionId,
    flow: CONNECTION_ACTIVITY,
    status: 'info',
    message: `Connected QuickBooks company "${company.name ?? company.realmId}" (${company.country}, ${company.homeCurrency})`,
    detail: {
      realmId: company.realmId,
      importOldInvoices: toggles.importOldInvoices,
      reviewRequests: toggles.reviewRequests,
      paymentsFromQuickBooks: toggles.paymentsFromQuickBooks ?? null,
      ...(toggles.reviewRequest ? { reviewRequest: toggles.reviewRequest.method } : {}),
    },
  });
  // Every existing QuickBooks customer (and, when chosen, every old invoice) is brought into the CRM from here on,
  // once both sides work (goLive).
  const live = await goLive(engine, connectionId);
  if (toggles.historyFrom) await listHistoryAtConnection(engine, live, toggles.historyFrom);
  return { kind: 'connected', connection: live };
}

/**
 * History chosen on the connect form: once both sides work, its dry run is listed (a job), and the card shows it with
 * the Start button; nothing is written before the person has seen what would be. A connection still waiting for a
 * side says so instead, and the dry run is asked for from the card later.
 */
async function listHistoryAtConnection(engine: Engine, live: Connection, from: string): Promise<void> {
  if (live.status === 'connected') {
    await queueHistoryDryRun(engine.contextFor(live), from);
    return;
  }
  await recordActivity(engine.db, {
    connectionId: live.id,
    flow: HISTORY_FLOW,
    status: 'info',
    message: `History from ${from} was not listed: the connection is not live yet. Ask for its dry run from the connection's card`,
  });
}

/**
 * Moves a connection to the company the person confirmed (see ConnectionRepository.switchQuickBooksCompany for
 * what happens to the links). The previous company's tokens, when still held, are revoked afterwards: ledgerlink
 * leaves that company, unless another connection holds tokens for it (Intuit would end that one's access too).
 */
export async function switchQuickBooksCompany(
  engine: Engine,
  connectionId: string,
  company: AuthorisedCompany,
  toggles: Toggles,
): Promise<Connection> {
  const connection = await engine.connections.require(connectionId);
  // Minutes may have passed on the confirmation page: another connection may have taken the company meanwhile.
  await engine.connections.assertAccountsFree(connectionId, {
    realmId: company.realmId,
    locationId: connection.hlLocationId ?? undefined,
  });
  const previousTokens = connection.qboRealmId
    ? await engine.connections.readTokens(connectionId, 'qbo').catch(() => undefined)
    : undefined;
  const outcome = await engine.connections.switchQuickBooksCompany(
    connectionId,
    {
      realmId: company.realmId,
      country: company.country,
      homeCurrency: company.homeCurrency,
      companyName: company.name,
      tokens: company.tokens,
    },
    COMPANY_CURSORS,
  );
  await applyToggles(engine, connectionId, toggles);
  engine.forget(connectionId);
  let previous = 'held no tokens';
  if (previousTokens && connection.qboRealmId) {
    if ((await engine.connections.othersWithQuickBooksTokens(connection.qboRealmId, connectionId)).length > 0)
      previous = 'kept its access (another connection uses it)';
    else {
      try {
        await engine.qboOAuth.revoke(previousTokens.refreshToken ?? previousTokens.accessToken);
        previous = 'was disconnected from ledgerlink';
      } catch (error) {
        previous = `did not confirm the disconnection (${describeError(error)}): disconnect ledgerlink in that company's QuickBooks (Settings > Apps)`;
      }
    }
  }
  const from = connection.qboCompanyName
    ? `"${connection.qboCompanyName}" (${connection.qboRealmId})`
    : `company ${connection.qboRealmId}`;
  await recordActivity(engine.db, {
    connectionId,
    flow: CONNECTION_ACTIVITY,
    status: 'info',
    message:
      `Switched QuickBooks company from ${from} to "${company.name ?? company.realmId}" (${company.country}, ${company.homeCurrency}). ` +
      `${outcome.setAside} links to the previous company's records set aside (kept, not followed)` +
      `${outcome.restored ? `, ${outcome.restored} links to this company's records followed again` : ''}` +
      `${outcome.errorsClosed ? `, ${outcome.errorsClosed} open errors about the previous company closed` : ''}; the previous company ${previous}. ` +
      'Records created from now on sync to the new company.',
    detail: { fromRealmId: connection.qboRealmId, realmId: company.realmId, ...outcome },
  });
  return goLive(engine, connectionId);
}

/**
 * The person cancelled a switch: the new company's tokens are revoked (ledgerlink is not left authorised on a
 * company it does not use), unless a connection holds tokens for that company. Best effort: returns a note when
 * Intuit did not confirm.
 */
export async function abandonCompanySwitch(engine: Engine, company: AuthorisedCompany): Promise<string | undefined> {
  if ((await engine.connections.othersWithQuickBooksTokens(company.realmId, '')).length > 0) return undefined;
  try {
    await engine.qboOAuth.revoke(company.tokens.refreshToken ?? company.tokens.accessToken);
    return undefined;
  } catch (error) {
    return `QuickBooks did not confirm that ledgerlink's access to "${company.name ?? company.realmId}" ended (${describeError(error)}): disconnect ledgerlink there (Settings > Apps)`;
  }
}

async function readAuthorisedCompany(
  engine: Engine,
  callback: { code: string; realmId: string },
): Promise<AuthorisedCompany> {
  const tokens = toStored(await engine.qboOAuth.exchangeCode(callback.code));
  const qbo = new QuickBooksClient({
    baseUrl: engine.providers.quickbooks.apiUrl,
    realmId: callback.realmId,
    tokens: fixed(tokens.accessToken),
  });
  const [info, preferences] = await Promise.all([qbo.companyInfo(), qbo.preferences()]);
  const homeCurrency =
    (preferences as { CurrencyPrefs?: { HomeCurrency?: { value?: string } } }).CurrencyPrefs?.HomeCurrency?.value ??
    'USD';
  return {
    realmId: callback.realmId,
    name: typeof info.CompanyName === 'string' ? info.CompanyName : null,
    country: String(info.Country ?? 'US').toUpperCase(),
    homeCurrency,
    tokens,
  };
}

async function applyToggles(engine: Engine, connectionId: string, toggles: Toggles): Promise<void> {
  await engine.connections.updateToggles(connectionId, toggles);
  if (toggles.reviewRequest)
    await engine.connections.updateSettings(connectionId, { reviewRequest: toggles.reviewRequest });
}
