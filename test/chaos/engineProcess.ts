// One ledgerlink process of a chaos run, started (and SIGKILLed, and restarted) by the supervisor in run.ts.
// Flags: --server (the HTTP server with the webhook endpoints), --workers (this process runs jobs), --pollers
// (this process schedules the periodic polls). On PGlite one process does all three, since a PGlite data folder
// belongs to one process; on PostgreSQL a server process (never killed) schedules polls and separate worker
// processes run the jobs.
//
// It talks to the supervisor over Node's IPC channel, because on PGlite nobody else can read its store:
//   {type:'query', id, sql, params}  -> {type:'result', id, rows} | {type:'result', id, error}
//   {type:'polls', id}               -> engine.enqueuePolls()
//   {type:'reconnect', id, qbo}      -> new QuickBooks tokens stored, connection live again (after a revocation)
//   {type:'history', id, from}       -> a history backfill from that day started (the card's Start), once
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { openDb } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import { Engine } from '../../src/sync/engine/engine.ts';
import { buildServer } from '../../src/server/app.ts';
import { secretsFor } from '../../src/runtime.ts';
import type { FastifyInstance } from 'fastify';
import { readHistoryProgress, startHistoryBackfill } from '../../src/sync/flows/history.ts';

export type ChildRequest =
  | { type: 'query'; id: number; sql: string; params?: unknown[] }
  | { type: 'polls'; id: number }
  | { type: 'reconnect'; id: number; connectionId: string; realmId: string; accessToken: string; refreshToken: string }
  | { type: 'history'; id: number; connectionId: string; from: string };
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; rows?: Record<string, unknown>[]; error?: string };

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  const config = loadConfig(process.env);
  if (!config.providers) throw new Error('the chaos engine process needs provider settings');
  const logger = pino({ level: process.env.LEDGERLINK_LOG_LEVEL ?? 'silent' });
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.pgliteDir });
  await migrate(db);
  const engine = await Engine.create({
    db,
    secrets: secretsFor(config),
    providers: config.providers,
    publicUrl: `http://${config.host}:${config.port}`,
    logger,
    limits: !config.limitsOff,
    concurrency: config.workerConcurrency,
    pollSeconds: config.pollSeconds,
    cdcPollSeconds: config.cdcPollSeconds,
    // Short expiry: a killed worker's jobs come back within seconds rather than two minutes.
    queue: {
      expireInSeconds: config.jobExpireSeconds,
      leaseSeconds: config.jobExpireSeconds,
      pollingIntervalSeconds: 0.5,
    },
  });
  let server: FastifyInstance | undefined;
  if (args.has('--server')) {
    server = await buildServer(engine);
    await server.listen({ port: config.port, host: config.host });
  }
  if (args.has('--workers')) await engine.startWorkers({ pollers: false });
  if (args.has('--pollers')) {
    // Our own timer rather than startWorkers' (which also starts workers): a server process on PostgreSQL schedules only.
    const timer = setInterval(() => void engine.enqueuePolls().catch(() => {}), config.pollSeconds * 1000);
    timer.unref();
  }

  process.on('message', (raw: unknown) => {
    const message = raw as ChildRequest;
    const reply = (m: ChildMessage) => process.send?.(m);
    const run = async (): Promise<Record<string, unknown>[]> => {
      switch (message.type) {
        case 'query':
          return (await db.query<Record<string, unknown>>(message.sql, message.params ?? [])).rows;
        case 'polls':
          await engine.enqueuePolls();
          return [];
        case 'reconnect': {
          const connection = await engine.connections.require(message.connectionId);
          await engine.connections.attachQuickBooks(connection.id, {
            realmId: message.realmId,
            country: connection.qboCountry ?? 'US',
            homeCurrency: connection.qboHomeCurrency ?? 'USD',
            tokens: {
              accessToken: message.accessToken,
              refreshToken: message.refreshToken,
              accessExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
            },
          });
          await engine.connections.activate(connection.id); // keeps connected_at: a reconnection is not a new start
          engine.forget(connection.id);
          await engine.resumeStoppedJobs(connection.id); // as the dashboard's reconnect does
          return [];
        }
        case 'history': {
          const ctx = engine.contextFor(await engine.connections.require(message.connectionId));
          // Asked again after an answer lost to a kill: the backfill that request started is the one wanted.
          const under = await readHistoryProgress(ctx);
          if (under?.from === message.from) return [{ state: under.state }];
          const started = await startHistoryBackfill(ctx, message.from);
          return [{ state: started.state, total: started.total }];
        }
      }
    };
    run().then(
      (rows) => reply({ type: 'result', id: message.id, rows }),
      (error: unknown) =>
        reply({ type: 'result', id: message.id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  const stop = async () => {
    await server?.close();
    await engine.stop();
    await db.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('disconnect', () => void stop());
  process.send?.({ type: 'ready' } satisfies ChildMessage);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
