// Disconnecting: revoke what can be revoked, forget the tokens, keep the history (links, activity, cursors),
// so that reconnecting later resumes instead of starting over.
// - QuickBooks: revoking the refresh token disconnects the app from the company (Intuit's revoke endpoint). Intuit
//   ties the authorisation to the app and the company, not to the connection: while another connection holds tokens
//   for the same company (a store from before one company belonged to one connection), nothing is revoked and this
//   connection's tokens are only forgotten, so that the other connection keeps working.
// - HighLevel offers no token revocation to apps: access ends when the agency uninstalls the app from the
//   location, which the activity entry says.
import { recordActivity } from '../../store/activity.ts';
import type { Engine } from '../engine/engine.ts';
import { describeError } from '../engine/errors.ts';
import { CONNECTION_ACTIVITY } from '../engine/flow.ts';

export interface DisconnectOutcome {
  quickbooks: 'revoked' | 'no-tokens' | 'failed' | 'shared';
  highlevel: 'forgotten' | 'no-tokens';
  notes: string[];
}

export async function disconnect(engine: Engine, connectionId: string): Promise<DisconnectOutcome> {
  const connection = await engine.connections.require(connectionId);
  const notes: string[] = [];
  let quickbooks: DisconnectOutcome['quickbooks'] = 'no-tokens';
  const qboTokens = connection.qboRealmId
    ? await engine.connections.readTokens(connectionId, 'qbo').catch(() => undefined)
    : undefined;
  const sharing = qboTokens
    ? await engine.connections.othersWithQuickBooksTokens(connection.qboRealmId!, connectionId)
    : [];
  if (qboTokens && sharing.length > 0) {
    quickbooks = 'shared';
    notes.push(
      `QuickBooks was not asked to revoke access: ${sharing.map((c) => `"${c.name}"`).join(', ')} uses the same company through the same authorisation, ` +
        "which Intuit would end too. This connection's tokens are forgotten",
    );
  } else if (qboTokens) {
    try {
      await engine.qboOAuth.revoke(qboTokens.refreshToken ?? qboTokens.accessToken);
      quickbooks = 'revoked';
    } catch (error) {
      quickbooks = 'failed';
      notes.push(
        `QuickBooks did not confirm the revocation (${describeError(error)}): disconnect the app in QuickBooks (Settings > Apps) as well`,
      );
    }
  }
  const hlTokens = connection.hlLocationId
    ? await engine.connections.readTokens(connectionId, 'hl').catch(() => undefined)
    : undefined;
  const highlevel: DisconnectOutcome['highlevel'] = hlTokens ? 'forgotten' : 'no-tokens';
  if (hlTokens)
    notes.push(
      'HighLevel has no token revocation for apps: uninstall ledgerlink from the location to end its access there',
    );
  await engine.connections.clearTokens(connectionId);
  await engine.connections.setStatus(connectionId, 'disconnected', 'Disconnected from the dashboard');
  engine.forget(connectionId);
  await recordActivity(engine.db, {
    connectionId,
    flow: CONNECTION_ACTIVITY,
    status: 'info',
    message: `Disconnected (QuickBooks tokens ${{ revoked: 'revoked', failed: 'not confirmed revoked', shared: 'forgotten, not revoked: another connection shares them', 'no-tokens': 'absent' }[quickbooks]}; HighLevel tokens forgotten). History is kept.`,
    detail: { notes },
  });
  return { quickbooks, highlevel, notes };
}
