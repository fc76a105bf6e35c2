// Opening ledgerlink for a process: the store (migrated), the token key, the engine; and for `start` the server.
import { join } from 'node:path';
import pino from 'pino';
import type { Config, ProviderConfig } from './config.ts';
import { openDb, type Db } from './store/db.ts';
import { migrate } from './store/migrate.ts';
import { SecretBox } from './store/secrets.ts';
import { Engine } from './sync/engine.ts';
import type { FastifyInstance } from 'fastify';
import type { DashboardOptions } from './server/dashboard.ts';

export interface Runtime {
  db: Db;
  engine: Engine;
  server?: FastifyInstance;
  url?: string;
  stop(): Promise<void>;
}

export function secretsFor(config: Config): SecretBox {
  return config.secretKey ? SecretBox.fromText(config.secretKey) : SecretBox.fromKeyFile(join(config.dataDir, 'secret.key'));
}

export async function openRuntime(config: Config, providers: ProviderConfig, options: { server: boolean; workers: boolean; logger?: pino.Logger; dashboard?: DashboardOptions }): Promise<Runtime> {
  const logger = options.logger ?? pino({ level: process.env.LEDGERLINK_LOG_LEVEL ?? 'info' });
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.pgliteDir, preparedStatements: config.preparedStatements });
  await migrate(db);
  const publicUrl = config.publicUrl ?? `http://${config.host}:${config.port}`;
  const engine = await Engine.create({
    db,
    secrets: secretsFor(config),
    providers,
    publicUrl,
    logger,
    limits: !config.limitsOff,
    concurrency: config.workerConcurrency,
    ...(config.paymentConcurrency ? { paymentConcurrency: config.paymentConcurrency } : {}),
    pollSeconds: config.pollSeconds,
    cdcPollSeconds: config.cdcPollSeconds,
    retention: config.retention,
    queue: { expireInSeconds: config.jobExpireSeconds, leaseSeconds: config.jobExpireSeconds },
  });
  let server: FastifyInstance | undefined;
  let url: string | undefined;
  if (options.server) {
    // Loaded only where it runs: a worker process does without Fastify and the dashboard (about 18 MB less RSS).
    const { buildServer } = await import('./server/app.ts');
    server = await buildServer(engine, { dashboard: { publicUrl, ...options.dashboard } });
    await server.listen({ port: config.port, host: config.host });
    const address = server.server.address();
    url = `http://${config.host}:${typeof address === 'object' && address ? address.port : config.port}`;
  }
  if (options.workers) await engine.startWorkers({ pollers: options.server });
  let stopped = false;
  return {
    db,
    engine,
    ...(server ? { server } : {}),
    ...(url ? { url } : {}),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server?.close();
      await engine.stop();
      await db.close();
    },
  };
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
