// Opening ledgerlink for a process: the store (migrated), the token key, the engine; and for `start` the server.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type pino from 'pino';
import type { Config, ProviderConfig } from './config.ts';
import { createLogger } from './log.ts';
import { Metrics } from './metrics.ts';
import { recordActivity } from './store/activity.ts';
import { ConnectionRepository } from './store/connections.ts';
import { openDb, type Db } from './store/db.ts';
import { migrate } from './store/migrate.ts';
import { SecretBox } from './store/secrets.ts';
import { Engine } from './sync/engine/engine.ts';
import { channelsFrom } from './notify/channels.ts';
import type { FastifyInstance } from 'fastify';
import type { DashboardOptions } from './server/dashboard.ts';
import type { MetricsListener } from './server/metricsListener.ts';
import { CONNECTION_ACTIVITY } from './sync/engine/flow.ts';

export interface Runtime {
  db: Db;
  engine: Engine;
  server?: FastifyInstance;
  url?: string;
  /** Where /metrics, /healthz and /readyz answer on their own port (LEDGERLINK_METRICS_PORT). */
  metricsUrl?: string;
  stop(): Promise<void>;
}

export function secretsFor(config: Config): SecretBox {
  return config.secretKey ? SecretBox.fromText(config.secretKey) : SecretBox.fromKeyFile(keyFileOf(config));
}

const keyFileOf = (config: Config) => join(config.dataDir, 'secret.key');

/** ledgerlink will not start as configured; the message names the problem and the fix (printed without a stack). */
export class StartRefused extends Error {}

export async function openRuntime(
  config: Config,
  providers: ProviderConfig,
  options: { server: boolean; workers: boolean; logger?: pino.Logger; dashboard?: DashboardOptions },
): Promise<Runtime> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const keyFileExisted = config.secretKey !== undefined || existsSync(keyFileOf(config));
  const db = await openDb({
    databaseUrl: config.databaseUrl,
    dataDir: config.pgliteDir,
    preparedStatements: config.preparedStatements,
  });
  let secrets: SecretBox;
  try {
    await migrate(db);
    // A missing key file is made afresh, except when the store holds tokens sealed with the one that was lost:
    // then the refusal below must not leave a new file in the place where the old one is to be restored.
    if (!keyFileExisted && config.unreadableTokens === 'refuse' && (await storedTokenCount(db)) > 0) {
      throw new StartRefused(
        `ledgerlink will not start: the key file ${keyFileOf(config)} that sealed the OAuth tokens in the store is missing. Nothing was changed. ` +
          `Fix: restore that file (or set LEDGERLINK_SECRET_KEY to its key) and start again. If the key is lost, set LEDGERLINK_UNREADABLE_TOKENS=pause ` +
          'to start with a new key and the connections paused, then reconnect each from the dashboard.',
      );
    }
    secrets = secretsFor(config);
    await checkTokenKey(db, secrets, config, logger, keyFileExisted);
  } catch (error) {
    await db.close();
    throw error;
  }
  const publicUrl = config.publicUrl ?? `http://${config.host}:${config.port}`;
  const engine = await Engine.create({
    db,
    secrets,
    providers,
    publicUrl,
    logger,
    metrics: new Metrics({ processMetrics: true }),
    limits: !config.limitsOff,
    concurrency: config.workerConcurrency,
    ...(config.paymentConcurrency ? { paymentConcurrency: config.paymentConcurrency } : {}),
    pollSeconds: config.pollSeconds,
    cdcPollSeconds: config.cdcPollSeconds,
    retention: config.retention,
    alerts: {
      afterSeconds: config.alerts.afterSeconds,
      channels: channelsFrom({ webhookUrl: config.alerts.webhookUrl, email: config.alerts.email }),
    },
    queue: { expireInSeconds: config.jobExpireSeconds, leaseSeconds: config.jobExpireSeconds },
  });
  let server: FastifyInstance | undefined;
  let url: string | undefined;
  if (options.server) {
    // Loaded only where it runs: a worker process does without Fastify and the dashboard (about 18 MB less RSS).
    const { buildServer } = await import('./server/app.ts');
    server = await buildServer(engine, {
      trustProxy: config.trustProxy,
      metricsToken: config.metricsToken,
      dashboard: { publicUrl, ...options.dashboard },
    });
    await server.listen({ port: config.port, host: config.host });
    const address = server.server.address();
    url = `http://${config.host}:${typeof address === 'object' && address ? address.port : config.port}`;
  }
  let metricsListener: MetricsListener | undefined;
  if (config.metricsPort !== undefined && (options.server || options.workers)) {
    const { startMetricsListener } = await import('./server/metricsListener.ts');
    metricsListener = await startMetricsListener({
      db,
      metrics: engine.metrics,
      host: config.metricsHost,
      port: config.metricsPort,
      log: logger,
    });
  }
  if (options.workers) await engine.startWorkers({ pollers: options.server });
  let stopped = false;
  return {
    db,
    engine,
    ...(server ? { server } : {}),
    ...(url ? { url } : {}),
    ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server?.close();
      await metricsListener?.close();
      await engine.stop();
      await db.close();
    },
  };
}

/**
 * A key that cannot open the stored tokens (a wrong LEDGERLINK_SECRET_KEY, a lost key file) would otherwise show
 * every connection as connected while no job can reach a provider. So at start: refuse, naming the problem and
 * the fix, with nothing changed; or, where the operator chose LEDGERLINK_UNREADABLE_TOKENS=pause, start with those
 * connections paused and an open error on each. Either way the sealed tokens stay as they are, so the right key
 * opens them again.
 */
async function checkTokenKey(
  db: Db,
  secrets: SecretBox,
  config: Config,
  log: pino.Logger,
  keyFileExisted: boolean,
): Promise<void> {
  const unreadable = await new ConnectionRepository(db, secrets).unreadableTokens();
  if (unreadable.length === 0) return;
  const total = await storedTokenCount(db);
  const names =
    unreadable
      .slice(0, 5)
      .map((c) => `"${c.name}"`)
      .join(', ') + (unreadable.length > 5 ? ', …' : '');
  const key =
    config.secretKey !== undefined
      ? 'LEDGERLINK_SECRET_KEY'
      : `the key file ${keyFileOf(config)}${keyFileExisted ? '' : ' (it did not exist and was created just now)'}`;
  const restore =
    config.secretKey !== undefined
      ? 'set LEDGERLINK_SECRET_KEY back to the key used before'
      : `put the earlier key back in ${keyFileOf(config)} (or set LEDGERLINK_SECRET_KEY to it)`;
  const problem = `the token key cannot open the OAuth tokens stored for ${unreadable.length} of ${total} connections (${names}): ${key} is not the key they were sealed with`;
  if (config.unreadableTokens === 'refuse') {
    throw new StartRefused(
      `ledgerlink will not start: ${problem}. Nothing was changed. Fix: ${restore} and start again. ` +
        'If that key is lost, set LEDGERLINK_UNREADABLE_TOKENS=pause to start with these connections paused, then reconnect each from the dashboard.',
    );
  }
  const repository = new ConnectionRepository(db, secrets);
  const reason = `Its stored tokens cannot be opened with the token key in use (${key.startsWith('the key file') ? 'the key file' : 'LEDGERLINK_SECRET_KEY'}). Restart with the key they were sealed with and resume, or reconnect both sides.`;
  for (const connection of unreadable) {
    if (connection.status !== 'connected') continue;
    await repository.setStatus(connection.id, 'paused', reason);
    await recordActivity(db, {
      connectionId: connection.id,
      flow: CONNECTION_ACTIVITY,
      status: 'error',
      message: reason,
      detail: { code: 'tokens-unreadable', sides: connection.sides },
    });
  }
  log.error(
    { connections: unreadable.map((c) => c.id) },
    `${problem}; those connections are paused (LEDGERLINK_UNREADABLE_TOKENS=pause). Fix: ${restore}, or reconnect them`,
  );
}

async function storedTokenCount(db: Db): Promise<number> {
  const result = await db.query<{ n: string | number }>(
    `SELECT count(*) AS n FROM connections WHERE qbo_tokens IS NOT NULL OR hl_tokens IS NOT NULL`,
  );
  return Number(result.rows[0]?.n ?? 0);
}

/** Stops the runtime on SIGINT/SIGTERM; resolves when it has stopped. */
export function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      void stop().finally(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
