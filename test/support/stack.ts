// The whole system on free ports for integration tests: both emulators, a fresh store, the engine, the server
// with its webhook endpoints registered in both emulators, and one connection made from minted tokens.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../src/log.ts';
import {
  startQuickBooksEmulator,
  type QuickBooksEmulator,
  type QuickBooksEmulatorOptions,
} from '../../emulators/quickbooks/index.ts';
import {
  startHighLevelEmulator,
  type HighLevelEmulator,
  type HighLevelEmulatorOptions,
} from '../../emulators/highlevel/index.ts';
import { SecretBox } from '../../src/store/secrets.ts';
import type { Connection } from '../../src/store/connections.ts';
import { Engine, type EngineOptions } from '../../src/sync/engine/engine.ts';
import { connectWithTokens } from '../../src/sync/connections/connect.ts';
import { buildServer } from '../../src/server/app.ts';
import { openTestDb, type TestDb } from './db.ts';

export const QBO_VERIFIER = 'stack-verifier-token';

export interface StackOptions {
  country?: 'US' | 'CA' | 'GB' | 'AU';
  qbo?: QuickBooksEmulatorOptions;
  hl?: HighLevelEmulatorOptions;
  /** Start this process's workers (default true). */
  workers?: boolean;
  engine?: Partial<
    Pick<
      EngineOptions,
      'limits' | 'limitFactor' | 'concurrency' | 'queue' | 'pollSeconds' | 'cdcPollSeconds' | 'alerts'
    >
  >;
  connect?: { importOldInvoices?: boolean; reviewRequests?: boolean };
  /** Start the periodic pollers with the workers (default false: tests call the pollers themselves). */
  pollers?: boolean;
  /** Runs before webhooks are registered and the connection is made: data that exists "before connecting". */
  beforeConnect?: (ctx: {
    qbo: QuickBooksEmulator;
    hl: HighLevelEmulator;
    realmId: string;
    locationId: string;
  }) => Promise<void>;
  /** The token key as LEDGERLINK_SECRET_KEY text, for worker processes that must open the same tokens. */
  secretKey?: string;
  /** Where the engine's log lines go (at debug level), for tests that read them. */
  logStream?: NodeJS.WritableStream;
  /** The bearer token the server's /metrics requires (unset: /metrics is not served). */
  metricsToken?: string;
}

export interface Stack {
  t: TestDb;
  qbo: QuickBooksEmulator;
  hl: HighLevelEmulator;
  engine: Engine;
  server: FastifyInstance;
  url: string;
  realmId: string;
  locationId: string;
  connection: Connection;
  secrets: SecretBox;
  /** What the engine was made with: a test may start a second Engine on the same store (a restart). */
  engineOptions: EngineOptions;
  /** The environment a `ledgerlink worker` process needs to join this stack (PostgreSQL only). */
  workerEnv(): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const country = options.country ?? 'US';
  const t = await openTestDb();
  const qbo = await startQuickBooksEmulator({
    companies: [{ country, name: `Books ${country}` }],
    webhookRetryScheduleMs: [200, 400],
    ...options.qbo,
  });
  const hl = await startHighLevelEmulator({ webhookRetryScheduleMs: [200, 400], ...options.hl });
  const realmId = qbo.realmIds[0]!;
  const location = hl.createLocation({ country, name: `Agency client ${country}` });
  const secretKey = options.secretKey ?? randomBytes(32).toString('base64');
  const secrets = SecretBox.fromText(secretKey);
  const engineOptions: EngineOptions = {
    db: t.db,
    secrets,
    publicUrl: 'http://127.0.0.1:0',
    // The logger ledgerlink runs with (redaction included), silent unless a test reads it or LEDGERLINK_TEST_LOG is set.
    logger: options.logStream
      ? createLogger({ level: 'debug', stream: options.logStream })
      : createLogger({ level: process.env.LEDGERLINK_TEST_LOG ?? 'silent' }),
    concurrency: 3,
    pollSeconds: 3600,
    ...options.engine,
    queue: { pollingIntervalSeconds: 0.5, ...options.engine?.queue },
    providers: {
      quickbooks: {
        clientId: 'emulator-client-id',
        clientSecret: 'emulator-client-secret',
        webhookVerifierToken: QBO_VERIFIER,
        apiUrl: qbo.url,
        appUrl: qbo.url,
        authorizeUrl: `${qbo.url}/connect/oauth2`,
        tokenUrl: `${qbo.url}/oauth2/v1/tokens/bearer`,
        revokeUrl: `${qbo.url}/v2/oauth2/tokens/revoke`,
      },
      highlevel: {
        clientId: hl.core.app.clientId,
        clientSecret: hl.core.app.clientSecret,
        apiUrl: hl.url,
        appUrl: hl.url,
        authorizeUrl: hl.url,
        webhookPublicKey: hl.webhookPublicKeyPem(),
        webhookRsaPublicKey: undefined,
      },
    },
  };
  const engine = await Engine.create(engineOptions);
  const server = await buildServer(engine, options.metricsToken ? { metricsToken: options.metricsToken } : {});
  await server.listen({ port: 0, host: '127.0.0.1' });
  const address = server.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await options.beforeConnect?.({ qbo, hl, realmId, locationId: location.id });
  qbo.admin.configureWebhooks([
    { url: `${url}/webhooks/quickbooks`, verifierToken: QBO_VERIFIER, format: 'cloudevents', windowMs: 100 },
  ]);
  hl.core.webhooks.config.url = `${url}/webhooks/highlevel`;
  const qboTokens = qbo.admin.mintToken(realmId);
  const hlTokens = hl.mintToken(location.id);
  const connection = await connectWithTokens(engine, {
    name: `Test ${country}`,
    quickbooks: {
      realmId,
      accessToken: qboTokens.access_token,
      refreshToken: qboTokens.refresh_token,
      expiresIn: qboTokens.expires_in,
    },
    highlevel: {
      locationId: location.id,
      accessToken: hlTokens.access_token,
      refreshToken: hlTokens.refresh_token,
      expiresIn: 86_399,
      userId: hlTokens.userId,
    },
    ...options.connect,
  });
  if (options.workers !== false) await engine.startWorkers({ pollers: options.pollers ?? false });
  return {
    t,
    qbo,
    hl,
    engine,
    server,
    url,
    realmId,
    locationId: location.id,
    connection,
    secrets,
    engineOptions,
    workerEnv: () => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(t.databaseUrl ? { DATABASE_URL: t.databaseUrl } : {}),
      LEDGERLINK_SECRET_KEY: secretKey,
      LEDGERLINK_LOG_LEVEL: process.env.LEDGERLINK_TEST_LOG ?? 'warn',
      ...emulatorProviderEnv(qbo, hl, QBO_VERIFIER),
    }),
    close: async () => {
      await server.close();
      await engine.stop();
      await hl.close();
      await qbo.close();
      await t.close();
    },
  };
}

/** The provider settings (`QBO_*`, `HL_*`) that point a `ledgerlink` process at both emulators. */
export function emulatorProviderEnv(
  qbo: QuickBooksEmulator,
  hl: HighLevelEmulator,
  verifierToken: string,
): NodeJS.ProcessEnv {
  return {
    QBO_CLIENT_ID: 'emulator-client-id',
    QBO_CLIENT_SECRET: 'emulator-client-secret',
    QBO_WEBHOOK_VERIFIER_TOKEN: verifierToken,
    QBO_API_URL: qbo.url,
    QBO_AUTHORIZE_URL: `${qbo.url}/connect/oauth2`,
    QBO_TOKEN_URL: `${qbo.url}/oauth2/v1/tokens/bearer`,
    QBO_REVOKE_URL: `${qbo.url}/v2/oauth2/tokens/revoke`,
    HL_CLIENT_ID: hl.core.app.clientId,
    HL_CLIENT_SECRET: hl.core.app.clientSecret,
    HL_API_URL: hl.url,
    HL_AUTHORIZE_URL: hl.url,
    HL_WEBHOOK_PUBLIC_KEY: hl.webhookPublicKeyPem(),
  };
}

/** Waits until `check` returns a value other than undefined, or fails with the last state seen. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
