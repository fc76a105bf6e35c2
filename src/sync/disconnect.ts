// Disconnecting: revoke what can be revoked, forget the tokens, keep the history (links, activity, cursors),
// so that reconnecting later resumes instead of starting over.
// - QuickBooks: revoking the refresh token disconnects the app from the company (Intuit's revoke endpoint).
// - HighLevel offers no token revocation to apps: access ends when the agency uninstalls the app from the
//   location, which the activity entry says.
import { recordActivity } from '../store/activity.ts';
import type { Engine } from './engine.ts';
import { describeError } from './errors.ts';

export interface DisconnectOutcome {
  quickbooks: 'revoked' | 'no-tokens' | 'failed';
  highlevel: 'forgotten' | 'no-tokens';
  notes: string[];
}

export async function disconnect(engine: Engine, connectionId: string): Promise<DisconnectOutcome> {
  const connection = await engine.connections.require(connectionId);
  const notes: string[] = [];
  let quickbooks: DisconnectOutcome['quickbooks'] = 'no-tokens';
  const qboTokens = connection.qboRealmId ? await engine.connections.readTokens(connectionId, 'qbo').catch(() => undefined) : undefined;
  if (qboTokens) {
    try {
      await engine.qboOAuth.revoke(qboTokens.refreshToken ?? qboTokens.accessToken);
      quickbooks = 'revoked';
    } catch (error) {
      quickbooks = 'failed';
      notes.push(`QuickBooks did not confirm the revocation (${describeError(error)}): disconnect the app in QuickBooks (Settings > Apps) as well`);
    }
  }
  const hlTokens = connection.hlLocationId ? await engine.connections.readTokens(connectionId, 'hl').catch(() => undefined) : undefined;
  const highlevel: DisconnectOutcome['highlevel'] = hlTokens ? 'forgotten' : 'no-tokens';
  if (hlTokens) notes.push('HighLevel has no token revocation for apps: uninstall ledgerlink from the location to end its access there');
  await engine.connections.clearTokens(connectionId);
  await engine.connections.setStatus(connectionId, 'disconnected', 'Disconnected from the dashboard');
  engine.forget(connectionId);
  await recordActivity(engine.db, {
    connectionId, flow: 'connection', status: 'info',
    message: `Disconnected (QuickBooks tokens ${quickbooks === 'revoked' ? 'revoked' : quickbooks === 'failed' ? 'not confirmed revoked' : 'absent'}; HighLevel tokens forgotten). History is kept.`,
    detail: { notes },
  });
  return { quickbooks, highlevel, notes };
}
