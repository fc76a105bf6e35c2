// `npm start` without provider credentials: both emulators (state kept in the data folder), ledgerlink on the
// embedded store, and on first start a US and a Canadian pair of CRM location and QuickBooks company, connected.
// The emulators and src/ know nothing of each other; this module wires them, like the tests do.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config, ProviderConfig } from '../src/config.ts';
import { openRuntime, untilSignal } from '../src/runtime.ts';
import { connectWithTokens } from '../src/sync/connections/connect.ts';
import { startQuickBooksEmulator } from '../emulators/quickbooks/index.ts';
import { startHighLevelEmulator } from '../emulators/highlevel/index.ts';
import { recordActivity } from '../src/store/activity.ts';
import { addAtlanticHst, CA_BUSINESS, seedHighLevel, seedQuickBooks, SPARE_BUSINESS, US_BUSINESS } from './seed.ts';

interface DemoState {
  hlClientId: string;
  hlClientSecret: string;
  qboVerifierToken: string;
  pairs: Array<{ country: 'US' | 'CA'; realmId: string; locationId: string }>;
  /** A location installed but not yet paired, and a company for it: the dashboard's "Connect QuickBooks". */
  spare?: { realmId: string; locationId: string };
}

/** The port asked for when it is free, else one the system picks (a second demo, or a busy 3000). */
async function freePort(wanted: number, host: string): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, host, () => {
        const address = server.address();
        const got = typeof address === 'object' && address ? address.port : port;
        server.close(() => resolve(got));
      });
    });
  return (await tryPort(wanted)) ?? (await tryPort(0))!;
}

/** The demo's admin password: LEDGERLINK_ADMIN_PASSWORD, else generated once and kept (0600) in the data folder. */
function adminPassword(dir: string, fromEnvironment: string | undefined): string {
  if (fromEnvironment) return fromEnvironment;
  const file = join(dir, 'admin-password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(9).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

const QBO_CLIENT = { clientId: 'emulator-client-id', clientSecret: 'emulator-client-secret' };

export async function runDemo(config: Config, args: string[]): Promise<number> {
  const dir = join(config.dataDir, 'demo');
  mkdirSync(dir, { recursive: true });
  const statePath = join(dir, 'demo.json');
  const firstStart = !existsSync(statePath);
  const state: DemoState = firstStart
    ? {
        hlClientId: `${randomBytes(12).toString('hex')}-${randomBytes(4).toString('hex')}`,
        hlClientSecret: randomBytes(16).toString('hex'),
        qboVerifierToken: randomBytes(16).toString('hex'),
        pairs: [],
      }
    : (JSON.parse(readFileSync(statePath, 'utf8')) as DemoState);
  const { values } = parseArgs({ args, options: { 'qbo-port': { type: 'string' }, 'hl-port': { type: 'string' } } });
  const port = (name: 'qbo-port' | 'hl-port', fallback: number) =>
    values[name] !== undefined ? Number(values[name]) : fallback;
  const host = config.host;
  const qbo = await startQuickBooksEmulator({
    host,
    port: await freePort(port('qbo-port', 4010), host),
    dataFile: join(dir, 'quickbooks.json'),
  });
  const hl = await startHighLevelEmulator({
    host,
    port: await freePort(port('hl-port', 4020), host),
    dataFile: join(dir, 'highlevel.json'),
    clientId: state.hlClientId,
    clientSecret: state.hlClientSecret,
  });
  const providers: ProviderConfig = {
    quickbooks: {
      ...QBO_CLIENT,
      webhookVerifierToken: state.qboVerifierToken,
      apiUrl: qbo.url,
      // The emulators serve a page for a record at the paths of the providers' own web apps.
      appUrl: qbo.url,
      authorizeUrl: `${qbo.url}/connect/oauth2`,
      tokenUrl: `${qbo.url}/oauth2/v1/tokens/bearer`,
      revokeUrl: `${qbo.url}/v2/oauth2/tokens/revoke`,
    },
    highlevel: {
      clientId: state.hlClientId,
      clientSecret: state.hlClientSecret,
      apiUrl: hl.url,
      appUrl: hl.url,
      authorizeUrl: hl.url,
      webhookPublicKey: hl.webhookPublicKeyPem(),
      webhookRsaPublicKey: undefined,
    },
  };
  // ledgerlink's own port must be known before it starts: it is part of the OAuth redirect URIs.
  // The demo's terminal is for a person trying ledgerlink: a JSON line per request would bury what it prints.
  const logLevel = process.env.LEDGERLINK_LOG_LEVEL ? config.logLevel : 'warn';
  const demoConfig = { ...config, logLevel, port: await freePort(config.port, host) };
  const password = adminPassword(dir, config.admin?.password);
  const runtime = await openRuntime(demoConfig, providers, {
    server: true,
    workers: true,
    dashboard: {
      sandbox: { quickbooksUrl: qbo.url, highlevelUrl: hl.url },
      initialAdmin: { username: config.admin?.username ?? 'admin', password },
    },
  });
  qbo.admin.configureWebhooks([
    {
      url: `${runtime.url}/webhooks/quickbooks`,
      verifierToken: state.qboVerifierToken,
      format: 'cloudevents',
      windowMs: 1_000,
    },
  ]);
  hl.core.webhooks.config.url = `${runtime.url}/webhooks/highlevel`;

  // The dashboard answers from here on: say so at once, before the first start's demo data is made.
  console.log(`
ledgerlink is running at ${runtime.url}
  Dashboard: open ${runtime.url}/ and log in as "${config.admin?.username ?? 'admin'}" with password ${password}
             (${config.admin ? 'from LEDGERLINK_ADMIN_PASSWORD' : `kept in ${join(dir, 'admin-password')}`})${firstStart ? '\n  First start: creating three demo businesses on both sides (half a minute)...' : ''}`);

  if (firstStart) {
    for (const country of ['US', 'CA'] as const) {
      const { realmId } = qbo.admin.createCompany({
        country,
        name: country === 'US' ? 'Sunrise Studio LLC' : 'Maple Leaf Consulting Inc.',
      });
      const location = hl.createLocation({
        country,
        name: country === 'US' ? 'Sunrise Studio' : 'Maple Leaf Consulting',
      });
      if (country === 'CA') addAtlanticHst(qbo, realmId);
      await seedQuickBooks(qbo, realmId, country === 'US' ? US_BUSINESS : CA_BUSINESS);
      await seedHighLevel(hl.url, location.id, country === 'US' ? US_BUSINESS : CA_BUSINESS);
      const q = qbo.admin.mintToken(realmId);
      const h = hl.mintToken(location.id);
      await connectWithTokens(runtime.engine, {
        name: location.name,
        quickbooks: { realmId, accessToken: q.access_token, refreshToken: q.refresh_token, expiresIn: q.expires_in },
        // The user who authorised the app, as HighLevel's token answer names it: marking an imported open invoice
        // sent needs it.
        highlevel: {
          locationId: location.id,
          accessToken: h.access_token,
          refreshToken: h.refresh_token,
          expiresIn: 86_399,
          userId: h.userId,
        },
      });
      state.pairs.push({ country, realmId, locationId: location.id });
    }
    // The third business has installed the app on its CRM location but not yet connected its books: the
    // dashboard shows its card with "Connect QuickBooks" (Intuit's consent page, here the emulator's).
    const spareCompany = qbo.admin.createCompany({ country: 'US', name: 'Harbor Yoga LLC' });
    const spareLocation = hl.createLocation({ country: 'US', name: 'Harbor Yoga' });
    await seedQuickBooks(qbo, spareCompany.realmId, SPARE_BUSINESS);
    await seedHighLevel(hl.url, spareLocation.id, SPARE_BUSINESS);
    // A workflow as the business would build it in HighLevel (a new location has none), so that the connect form
    // offers "enrol in a workflow" beside the direct text/email for review requests.
    await fetch(`${hl.url}/_emulator/locations/${spareLocation.id}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Thank-you and review request' }),
    });
    const spareToken = hl.mintToken(spareLocation.id);
    const pending = await runtime.engine.connections.create({ name: spareLocation.name ?? 'Harbor Yoga' });
    await runtime.engine.connections.attachHighLevel(pending.id, {
      locationId: spareLocation.id,
      locationName: spareLocation.name ?? undefined,
      country: 'US',
      tokens: {
        accessToken: spareToken.access_token,
        refreshToken: spareToken.refresh_token,
        accessExpiresAt: new Date(Date.now() + 86_399_000).toISOString(),
      },
    });
    await recordActivity(runtime.engine.db, {
      connectionId: pending.id,
      flow: 'connection',
      status: 'info',
      message: 'HighLevel location "Harbor Yoga" authorised ledgerlink; connect its QuickBooks company next',
    });
    state.spare = { realmId: spareCompany.realmId, locationId: spareLocation.id };
    writeFileSync(statePath, JSON.stringify(state, null, 2));
    qbo.save();
    await hl.save();
  }

  console.log(`  QuickBooks Online emulator: ${qbo.url}   (companies: ${state.pairs.map((p) => `${p.country} ${p.realmId}`).join(', ')})
  HighLevel emulator:         ${hl.url}   (locations: ${state.pairs.map((p) => `${p.country} ${p.locationId}`).join(', ')})
  data folder:                ${config.dataDir}   (a second start keeps everything)
  logs:                       ${logLevel === 'warn' && !process.env.LEDGERLINK_LOG_LEVEL ? 'warnings and errors (LEDGERLINK_LOG_LEVEL=info shows every request and job)' : `level ${logLevel}`}
In the dashboard, open a connection's Sandbox tab to act as a CRM user or a bookkeeper. Or use the emulators' admin APIs, e.g.
  curl -s -X POST ${hl.url}/_emulator/locations/${state.pairs[0]?.locationId}/actions/order-form-payment \\
    -H 'content-type: application/json' \\
    -d '{"contact":{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com"},"items":[{"name":"Consulting hour","amount":120}]}'
Ready. Press Ctrl-C to stop.`);
  await untilSignal(async () => {
    await runtime.stop();
    qbo.save();
    await hl.save();
    await Promise.all([qbo.close(), hl.close()]);
  });
  return 0;
}
