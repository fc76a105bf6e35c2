// `npm start` without provider credentials: both emulators (state kept in the data folder), ledgerlink on the
// embedded store, and on first start a US and a Canadian pair of CRM location and QuickBooks company, connected.
// The emulators and src/ know nothing of each other; this module wires them, like the tests do.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Config, ProviderConfig } from '../src/config.ts';
import { openRuntime, untilSignal } from '../src/runtime.ts';
import { connectWithTokens } from '../src/sync/connect.ts';
import { startQuickBooksEmulator } from '../emulators/quickbooks/index.ts';
import { startHighLevelEmulator } from '../emulators/highlevel/index.ts';

interface DemoState {
  hlClientId: string;
  hlClientSecret: string;
  qboVerifierToken: string;
  pairs: Array<{ country: 'US' | 'CA'; realmId: string; locationId: string }>;
}

const QBO_CLIENT = { clientId: 'emulator-client-id', clientSecret: 'emulator-client-secret' };

export async function runDemo(config: Config, args: string[]): Promise<number> {
  const dir = join(config.dataDir, 'demo');
  mkdirSync(dir, { recursive: true });
  const statePath = join(dir, 'demo.json');
  const firstStart = !existsSync(statePath);
  const state: DemoState = firstStart
    ? { hlClientId: `${randomBytes(12).toString('hex')}-${randomBytes(4).toString('hex')}`, hlClientSecret: randomBytes(16).toString('hex'), qboVerifierToken: randomBytes(16).toString('hex'), pairs: [] }
    : (JSON.parse(readFileSync(statePath, 'utf8')) as DemoState);
  const port = (name: string, fallback: number) => Number(args[args.indexOf(`--${name}`) + 1] ?? 0) || fallback;

  const qbo = await startQuickBooksEmulator({ port: port('qbo-port', 4010), dataFile: join(dir, 'quickbooks.json') });
  const hl = await startHighLevelEmulator({ port: port('hl-port', 4020), dataFile: join(dir, 'highlevel.json'), clientId: state.hlClientId, clientSecret: state.hlClientSecret });
  const providers: ProviderConfig = {
    quickbooks: {
      ...QBO_CLIENT,
      webhookVerifierToken: state.qboVerifierToken,
      apiUrl: qbo.url,
      authorizeUrl: `${qbo.url}/connect/oauth2`,
      tokenUrl: `${qbo.url}/oauth2/v1/tokens/bearer`,
      revokeUrl: `${qbo.url}/v2/oauth2/tokens/revoke`,
    },
    highlevel: { clientId: state.hlClientId, clientSecret: state.hlClientSecret, apiUrl: hl.url, authorizeUrl: hl.url, webhookPublicKey: hl.webhookPublicKeyPem(), webhookRsaPublicKey: undefined },
  };
  const runtime = await openRuntime(config, providers, { server: true, workers: true });
  qbo.admin.configureWebhooks([{ url: `${runtime.url}/webhooks/quickbooks`, verifierToken: state.qboVerifierToken, format: 'cloudevents', windowMs: 1_000 }]);
  hl.core.webhooks.config.url = `${runtime.url}/webhooks/highlevel`;

  if (firstStart) {
    for (const country of ['US', 'CA'] as const) {
      const { realmId } = qbo.admin.createCompany({ country, name: country === 'US' ? 'Sunrise Studio LLC' : 'Maple Leaf Consulting Inc.' });
      const location = hl.createLocation({ country, name: country === 'US' ? 'Sunrise Studio' : 'Maple Leaf Consulting' });
      const q = qbo.admin.mintToken(realmId);
      const h = hl.mintToken(location.id);
      await connectWithTokens(runtime.engine, {
        name: location.name,
        quickbooks: { realmId, accessToken: q.access_token, refreshToken: q.refresh_token, expiresIn: q.expires_in },
        highlevel: { locationId: location.id, accessToken: h.access_token, refreshToken: h.refresh_token, expiresIn: 86_399 },
      });
      state.pairs.push({ country, realmId, locationId: location.id });
    }
    writeFileSync(statePath, JSON.stringify(state, null, 2));
    qbo.save();
    await hl.save();
  }

  console.log(`
ledgerlink is running at ${runtime.url}
  QuickBooks Online emulator: ${qbo.url}   (companies: ${state.pairs.map((p) => `${p.country} ${p.realmId}`).join(', ')})
  HighLevel emulator:         ${hl.url}   (locations: ${state.pairs.map((p) => `${p.country} ${p.locationId}`).join(', ')})
  data folder:                ${config.dataDir}   (a second start keeps everything)
Act as a CRM user through the HighLevel emulator's admin API, e.g.
  curl -s -X POST ${hl.url}/_emulator/locations/${state.pairs[0]?.locationId}/actions/order-form-payment \\
    -H 'content-type: application/json' \\
    -d '{"contact":{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com"},"items":[{"name":"Consulting hour","amount":120}]}'
Press Ctrl-C to stop.`);
  await untilSignal(async () => {
    await runtime.stop();
    qbo.save();
    await hl.save();
    await Promise.all([qbo.close(), hl.close()]);
  });
  return 0;
}
