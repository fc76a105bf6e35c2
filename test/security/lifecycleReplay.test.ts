// Issue 17, finding 1: a replayed HighLevel AppUninstall must not revoke a live connection. App lifecycle events
// pass the same dedupe, freshness window and app check as every other event, and an uninstall older than the
// connection's latest install never revokes it. Every delivery here is signed with the emulator's key and posted
// over HTTP, as an attacker holding a captured delivery would.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { startStack, type Stack } from '../support/stack.ts';
import { appUninstallPayload } from '../../emulators/highlevel/webhookPayloads.ts';
import { emulatorAdmin } from '../support/emulatorAdmin.ts';

describe('HighLevel app lifecycle events against replay', () => {
  let s: Stack;
  const admin = (method: string, path: string, payload?: unknown) => emulatorAdmin(s.hl.url, method, path, payload);
  const status = async () => (await s.engine.connections.get(s.connection.id))?.status;
  const repost = (e: { body: string; headers: Record<string, string> }) =>
    fetch(`${s.url}/webhooks/highlevel`, { method: 'POST', headers: e.headers, body: e.body });
  /** A body of our choosing signed with the emulator's key, as HighLevel would sign it; posted by the test. */
  const signed = (payload: Record<string, unknown>): { body: string; headers: Record<string, string> } => {
    const body = JSON.stringify(payload);
    const key = createPrivateKey(s.hl.core.webhooks.exportKeys().ed25519);
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'x-ghl-signature': sign(null, Buffer.from(body), key).toString('base64'),
      },
    };
  };
  /** The agency installs the app again and the location is reconnected (what the OAuth callback does). */
  const reinstall = async () => {
    await admin('POST', `/locations/${s.locationId}/install`);
    await s.hl.flushWebhooks();
    const tokens = s.hl.mintToken(s.locationId);
    await s.engine.connections.attachHighLevel(s.connection.id, {
      locationId: s.locationId,
      country: 'US',
      tokens: {
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
        accessExpiresAt: new Date(Date.now() + 86_000_000).toISOString(),
      },
    });
    await s.engine.connections.activate(s.connection.id);
    assert.equal(await status(), 'connected');
  };

  before(async () => {
    s = await startStack({ workers: false });
  });
  after(async () => {
    await s.close();
  });

  it('a captured uninstall re-posted after a reinstall is a duplicate and leaves the connection live', async () => {
    const mark = s.hl.core.webhooks.emitted.length;
    await admin('POST', `/locations/${s.locationId}/uninstall`);
    await s.hl.flushWebhooks();
    assert.equal(await status(), 'revoked', 'the genuine uninstall stops the connection');
    const captured = s.hl.core.webhooks.emitted.slice(mark).find((e) => e.event === 'AppUninstall')!;
    assert.ok(captured.delivery, 'the uninstall was delivered');

    await reinstall();
    const replay = await repost({ body: captured.body, headers: captured.delivery!.headers });
    assert.equal(replay.status, 200);
    assert.deepEqual(await replay.json(), { accepted: 0 });
    assert.equal(await status(), 'connected', 'the replay changed nothing');
  });

  it('refuses an uninstall signed for another app', async () => {
    const foreign = signed({
      ...appUninstallPayload('another-app-id', s.locationId),
      timestamp: new Date().toISOString(),
      webhookId: `w-${Date.now()}`,
    });
    const response = await repost(foreign);
    assert.equal(response.status, 403);
    assert.equal(await status(), 'connected');
  });

  it('refuses an uninstall whose timestamp is outside the freshness window', async () => {
    const stale = signed({
      ...appUninstallPayload(s.hl.core.app.appId, s.locationId),
      timestamp: new Date(Date.now() - 3 * 3600_000).toISOString(),
      webhookId: `w-stale-${Date.now()}`,
    });
    const response = await repost(stale);
    assert.equal(response.status, 400);
    assert.equal(await status(), 'connected');
  });

  it('an uninstall dated before the latest install does not revoke, one dated after it does', async () => {
    const older = signed({
      ...appUninstallPayload(s.hl.core.app.appId, s.locationId),
      timestamp: new Date(Date.now() - 60_000).toISOString(),
      webhookId: `w-older-${Date.now()}`,
    });
    const response = await repost(older);
    assert.equal(response.status, 200);
    assert.equal(await status(), 'connected', 'an uninstall from before the reinstall is history');

    await new Promise((r) => setTimeout(r, 20));
    const newer = signed({
      ...appUninstallPayload(s.hl.core.app.appId, s.locationId),
      timestamp: new Date().toISOString(),
      webhookId: `w-newer-${Date.now()}`,
    });
    assert.equal((await repost(newer)).status, 200);
    assert.equal(await status(), 'revoked');
  });
});
