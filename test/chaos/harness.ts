// The chaos run: both emulators in this process, ledgerlink in child processes (killed with SIGKILL and restarted
// at random moments by the supervisor), a seeded generator of realistic work on both sides under injected faults,
// then a convergence phase without faults and a reconciliation of both sides against the generator's own ledger.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import pino from 'pino';
import { startQuickBooksEmulator, type QuickBooksEmulator } from '../../emulators/quickbooks/index.ts';
import { startHighLevelEmulator, type HighLevelEmulator } from '../../emulators/highlevel/index.ts';
import { seededRandom } from '../../emulators/common/random.ts';
import type { FaultConfig } from '../../emulators/common/faults.ts';
import { openDb } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import { SecretBox } from '../../src/store/secrets.ts';
import { Engine, type EngineOptions } from '../../src/sync/engine/engine.ts';
import { connectWithTokens } from '../../src/sync/connections/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { EngineProcess } from './processes.ts';
import { Generator, type Ledger } from './generator.ts';
import { reconcile, type Reconciliation } from './reconcile.ts';

export interface ChaosOptions {
  ops: number;
  seed: number;
  /** Share of provider API requests that get a fault (0..1); webhook faults scale with it. */
  faultRate: number;
  /** Worker processes on PostgreSQL (ignored on PGlite: one process owns the store). */
  workers?: number;
  /** PostgreSQL server (a fresh database is created on it); absent: PGlite in a temp folder. */
  databaseUrl?: string | undefined;
  /** Mean real milliseconds between two SIGKILLs (0: no kills). */
  killEveryMs?: number;
  /** Upper bound on the convergence phase. */
  convergeMs?: number;
  /** Progress lines on stderr. */
  progress?: (line: string) => void;
  /** Aborts the run (a test's timeout): the processes are killed and the store removed. */
  signal?: AbortSignal;
}

export interface ChaosReport extends Reconciliation {
  seed: number;
  store: 'pglite' | 'postgresql';
  worker_processes: number;
  ops: number;
  ops_by_kind: Record<string, number>;
  fault_rate: number;
  faults_injected: number;
  faults_by_kind: Record<string, number>;
  workers_killed: number;
  token_expiries: number;
  revocations: number;
  run_seconds: number;
  convergence_seconds: number;
  converged: boolean;
  /** The history backfill started during the run: its records made before the connection, and how it ended. */
  history: { seeded: number; from: string; state: string | null; done: number | null; failed: number | null };
}

const QBO_VERIFIER = 'chaos-verifier-token';
/** A killed worker's job comes back after this long (production default: 120 s). */
const JOB_EXPIRE_SECONDS = 15;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Fault rules at about `rate` in all, spread over every kind of provider fault but revokeToken (the run revokes
 * the QuickBooks tokens once, halfway, and reconnects: see revokeAndReconnect), and webhook faults of each kind.
 */
export function faultConfig(seed: number, rate: number): FaultConfig {
  return {
    seed,
    rules: [
      // loseAnswer first: it only matches writes, so its share is taken from writes before the generic rules roll.
      { kind: 'loseAnswer', rate: rate * 0.25, method: 'POST' },
      { kind: 'error429', rate: rate * 0.3 },
      { kind: 'error500', rate: rate * 0.15 },
      { kind: 'error503', rate: rate * 0.15 },
      { kind: 'latency', rate: rate * 0.2, latencyMs: 300 },
      { kind: 'drop', rate: rate * 0.1 },
    ],
    webhooks: { duplicate: rate * 0.5, reorder: rate * 0.5, drop: rate * 0.25 },
  };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const say = options.progress ?? (() => {});
  const started = Date.now();
  const onPostgres = Boolean(options.databaseUrl);
  const workerCount = onPostgres ? Math.max(1, options.workers ?? 2) : 1;
  const random = seededRandom(options.seed);
  const cleanups: Array<() => Promise<void> | void> = [];
  try {
    // --- both emulators, limits lifted (faults are the only throttling), retries short enough for a test run
    const qbo: QuickBooksEmulator = await startQuickBooksEmulator({
      companies: [{ country: 'US', name: 'Chaos Books' }],
      limits: false,
      faultSeed: options.seed,
      webhookRetryScheduleMs: [500, 1000, 2000, 4000, 8000, 16000],
    });
    cleanups.push(() => qbo.close());
    const hl: HighLevelEmulator = await startHighLevelEmulator({
      limitFactor: Infinity,
      faultSeed: options.seed + 1,
      webhookRetryScheduleMs: [500, 1000, 2000],
    });
    cleanups.push(() => hl.close());
    const realmId = qbo.realmIds[0]!;
    const location = hl.createLocation({ country: 'US', name: 'Chaos Studio' });
    const port = await freePort();
    const secretKey = randomBytes(32).toString('base64');

    // --- the store, and the connection made in it before any engine process starts
    let databaseUrl: string | undefined;
    let pgliteRoot: string | undefined;
    if (onPostgres) {
      const saved = process.env.DATABASE_URL;
      process.env.DATABASE_URL = options.databaseUrl;
      const created = await createTestDatabase();
      process.env.DATABASE_URL = saved;
      databaseUrl = created!.databaseUrl;
      cleanups.push(() => created!.drop());
    } else {
      pgliteRoot = mkdtempSync(join(tmpdir(), 'ledgerlink-chaos-'));
      cleanups.push(() => rmSync(pgliteRoot!, { recursive: true, force: true }));
    }
    const providers: EngineOptions['providers'] = {
      quickbooks: {
        clientId: 'emulator-client-id',
        clientSecret: 'emulator-client-secret',
        webhookVerifierToken: QBO_VERIFIER,
        apiUrl: qbo.url,
        authorizeUrl: `${qbo.url}/connect/oauth2`,
        tokenUrl: `${qbo.url}/oauth2/v1/tokens/bearer`,
        revokeUrl: `${qbo.url}/v2/oauth2/tokens/revoke`,
      },
      highlevel: {
        clientId: hl.core.app.clientId,
        clientSecret: hl.core.app.clientSecret,
        apiUrl: hl.url,
        authorizeUrl: hl.url,
        webhookPublicKey: hl.webhookPublicKeyPem(),
        webhookRsaPublicKey: undefined,
      },
    };
    // Work in the CRM from before the connection, which a history backfill started during the run must bring over.
    const generator = new Generator({ seed: options.seed, qbo, hl, realmId, locationId: location.id, say });
    const historyRecords = Math.max(8, Math.round(options.ops / 10));
    await generator.seedHistory(historyRecords);
    const historyFrom = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10);
    const connectionId = await (async () => {
      const db = await openDb({ databaseUrl, dataDir: pgliteRoot ? join(pgliteRoot, 'pglite') : undefined });
      await migrate(db);
      const engine = await Engine.create({
        db,
        secrets: SecretBox.fromText(secretKey),
        providers,
        publicUrl: `http://127.0.0.1:${port}`,
        logger: pino({ level: 'silent' }),
        queue: { supervise: false, expireInSeconds: JOB_EXPIRE_SECONDS, leaseSeconds: JOB_EXPIRE_SECONDS },
      });
      const qboTokens = qbo.admin.mintToken(realmId);
      const hlTokens = hl.mintToken(location.id);
      const connection = await connectWithTokens(engine, {
        name: 'Chaos',
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
        },
        reviewRequests: true,
      });
      await engine.stop();
      await db.close();
      return connection.id;
    })();
    qbo.admin.configureWebhooks([
      {
        url: `http://127.0.0.1:${port}/webhooks/quickbooks`,
        verifierToken: QBO_VERIFIER,
        format: 'cloudevents',
        windowMs: 200,
      },
    ]);
    hl.core.webhooks.config.url = `http://127.0.0.1:${port}/webhooks/highlevel`;

    // --- the engine processes
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { LEDGERLINK_DATA_DIR: pgliteRoot }),
      LEDGERLINK_SECRET_KEY: secretKey,
      LEDGERLINK_LOG_LEVEL: process.env.LEDGERLINK_TEST_LOG ?? 'silent',
      LEDGERLINK_HOST: '127.0.0.1',
      LEDGERLINK_PORT: String(port),
      LEDGERLINK_LIMITS_OFF: 'true',
      LEDGERLINK_POLL_SECONDS: String(Math.max(5, Math.min(30, Math.round(options.ops / 400)))),
      LEDGERLINK_CDC_POLL_SECONDS: '5',
      LEDGERLINK_JOB_EXPIRE_SECONDS: String(JOB_EXPIRE_SECONDS),
      LEDGERLINK_WORKER_CONCURRENCY: '4',
      QBO_CLIENT_ID: providers.quickbooks.clientId,
      QBO_CLIENT_SECRET: providers.quickbooks.clientSecret,
      QBO_WEBHOOK_VERIFIER_TOKEN: QBO_VERIFIER,
      QBO_API_URL: qbo.url,
      QBO_AUTHORIZE_URL: providers.quickbooks.authorizeUrl,
      QBO_TOKEN_URL: providers.quickbooks.tokenUrl,
      QBO_REVOKE_URL: providers.quickbooks.revokeUrl,
      HL_CLIENT_ID: providers.highlevel.clientId,
      HL_CLIENT_SECRET: providers.highlevel.clientSecret,
      HL_API_URL: hl.url,
      HL_AUTHORIZE_URL: hl.url,
      HL_WEBHOOK_PUBLIC_KEY: hl.webhookPublicKeyPem(),
    };
    const main = new EngineProcess(
      onPostgres ? 'server' : 'ledgerlink',
      onPostgres ? ['--server', '--pollers'] : ['--server', '--workers', '--pollers'],
      env,
    );
    const workers = onPostgres
      ? Array.from({ length: workerCount }, (_, i) => new EngineProcess(`worker-${i + 1}`, ['--workers'], env))
      : [main];
    const all = onPostgres ? [main, ...workers] : [main];
    cleanups.push(async () => {
      for (const p of all) await p.kill();
    });
    await Promise.all(all.map((p) => p.start()));
    say(
      `started ${all.map((p) => p.name).join(', ')} on ${onPostgres ? 'PostgreSQL' : 'PGlite'}; ledgerlink on port ${port}`,
    );

    // The store as the supervisor sees it: through the main process, which on PGlite is the only one that can open it.
    const query = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => {
      for (let attempt = 0; ; attempt++) {
        try {
          if (!main.alive) await main.whenReady().catch(() => {});
          return await main.query<T>(sql, params);
        } catch (error) {
          if (attempt > 40) throw error;
          await sleep(500);
        }
      }
    };

    // --- the supervisor: SIGKILL a random killable process now and then, restart it a moment later
    let supervising = true;
    const killEvery = options.killEveryMs ?? (onPostgres ? 4000 : 8000);
    let paused = false;
    const supervisor = (async () => {
      if (killEvery <= 0) return;
      while (supervising && !options.signal?.aborted) {
        await sleep(killEvery * (0.5 + random()));
        if (!supervising) break;
        const victim = workers[Math.floor(random() * workers.length)]!;
        if (!victim.alive || paused) continue;
        await victim.kill('SIGKILL');
        say(`killed ${victim.name} (SIGKILL)`);
        await sleep(300 + random() * 1500);
        await victim.start().catch((error: unknown) => say(`restart of ${victim.name} failed: ${String(error)}`));
      }
    })();

    // --- the generator under faults
    const faults = faultConfig(options.seed, options.faultRate);
    qbo.faults.configure(faults);
    hl.core.faults.configure({ ...faults, seed: options.seed + 7 });
    await generator.prepare();
    const historyAt = Math.max(1, Math.floor(options.ops / 3));
    let tokenExpiries = 0;
    let revocations = 0;
    const expiryEvery = Math.max(50, Math.floor(options.ops / 8));
    const revokeAt = Math.floor(options.ops / 2);
    const pendingJobs = async () =>
      Number(
        (
          await query<{ n: string | number }>(
            `SELECT count(*) AS n FROM pgboss.job WHERE state IN ('created', 'retry', 'active') AND name NOT LIKE 'poll-%' AND name NOT LIKE 'sweep-%'`,
          )
        )[0]?.n ?? 0,
      );
    const checkAbort = () => {
      if (options.signal?.aborted) throw new Error('chaos run aborted');
    };
    for (let i = 1; i <= options.ops; i++) {
      checkAbort();
      await generator.step();
      if (i === historyAt) {
        // A person presses Start on the card's history section, while everything else goes on.
        for (let attempt = 0; ; attempt++) {
          try {
            await main.request({ type: 'history', connectionId, from: historyFrom });
            break;
          } catch (error) {
            if (attempt > 40) throw error;
            await sleep(500);
          }
        }
        say(`history backfill from ${historyFrom} started (${historyRecords} records made before the connection)`);
      }
      if (options.faultRate > 0 && i % expiryEvery === 0) {
        // Every access token in use expires: QuickBooks' clock jumps past their hour.
        qbo.clock.advance(3_700_000);
        tokenExpiries += 1;
      }
      if (options.faultRate > 0 && i === revokeAt) {
        // No kills while the user reconnects (on PGlite the process that takes the new tokens is the one killed).
        paused = !onPostgres;
        revocations += await revokeAndReconnect({ qbo, realmId, connectionId, main, query, say });
        paused = false;
      }
      if (i % 25 === 0) {
        // Back-pressure: the sync works under the faults instead of after them.
        for (let waited = 0; waited < 120 && (await pendingJobs()) > 150; waited++) await sleep(500);
      }
      if (i % 500 === 0)
        say(
          `${i}/${options.ops} operations, ${qbo.faults.totalInjected() + hl.core.faults.totalInjected()} faults, ${all.reduce((n, p) => n + p.kills, 0)} kills`,
        );
    }
    supervising = false;
    await supervisor;
    checkAbort();
    const runEnded = Date.now();

    // --- convergence: faults lifted, every process up, webhooks delivered, pollers and sweeps run until the queues are idle
    const faultStats = mergeCounts(qbo.faults.stats(), hl.core.faults.stats());
    qbo.faults.configure({ rules: [] });
    hl.core.faults.configure({ rules: [] });
    for (const p of all) if (!p.alive) await p.start();
    say('faults lifted; converging');
    await Promise.race([Promise.all([qbo.admin.webhooks.flush(), hl.flushWebhooks()]).catch(() => {}), sleep(60_000)]);
    const ledger: Ledger = generator.ledger;
    const deadline = Date.now() + (options.convergeMs ?? 300_000);
    let result: Reconciliation | undefined;
    let converged = false;
    for (let round = 1; ; round++) {
      checkAbort();
      await main.request({ type: 'polls' }).catch(() => {});
      await sleep(1000);
      const waitStarted = Date.now();
      for (let quiet = 0; quiet < 3 && Date.now() < deadline; ) {
        quiet = (await pendingJobs()) === 0 ? quiet + 1 : 0;
        await sleep(1000);
        if (Date.now() - waitStarted > 30_000 && quiet === 0) {
          const left = await query<{ name: string; state: string; n: string | number; wait_s: string | number }>(
            `SELECT name, state, count(*) AS n, max(EXTRACT(EPOCH FROM (start_after - now()))) AS wait_s FROM pgboss.job WHERE state IN ('created', 'retry', 'active') AND name NOT LIKE 'poll-%' AND name NOT LIKE 'sweep-%' GROUP BY name, state`,
          );
          say(
            `still pending after 30 s: ${left.map((r) => `${r.name}/${r.state} ${String(r.n)} (starts in up to ${Math.round(Number(r.wait_s))} s)`).join(', ')}`,
          );
          break;
        }
      }
      await Promise.race([hl.flushWebhooks().catch(() => {}), sleep(30_000)]);
      result = await reconcile({ ledger, qbo, hl, realmId, locationId: location.id, connectionId, query });
      const clean =
        result.duplicates +
          result.missing +
          result.amount_mismatches +
          result.review_requests_duplicated +
          result.unexplained_failures ===
        0;
      say(
        `convergence round ${round}: duplicates ${result.duplicates}, missing ${result.missing}, amount mismatches ${result.amount_mismatches}, unexplained ${result.unexplained_failures}`,
      );
      // Change data capture runs every few seconds: a few clean rounds in a row are not needed, one is the answer.
      if (clean) {
        converged = true;
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(4000);
    }
    const historyRow = (
      await query<{ value: unknown }>(`SELECT value FROM cursors WHERE connection_id = $1 AND name = 'history'`, [
        connectionId,
      ])
    )[0]?.value;
    const history = (typeof historyRow === 'string' ? JSON.parse(historyRow) : historyRow) as
      | { state?: string; done?: number; failed?: number }
      | undefined;
    const report: ChaosReport = {
      seed: options.seed,
      store: onPostgres ? 'postgresql' : 'pglite',
      worker_processes: workerCount,
      ops: options.ops,
      ops_by_kind: generator.counts,
      fault_rate: options.faultRate,
      faults_injected: sumCounts(faultStats) + tokenExpiries + revocations,
      faults_by_kind: { ...faultStats, token_expiry: tokenExpiries, revocation: revocations },
      workers_killed: all.reduce((n, p) => n + p.kills, 0),
      token_expiries: tokenExpiries,
      revocations,
      run_seconds: Math.round((runEnded - started) / 1000),
      convergence_seconds: Math.round((Date.now() - runEnded) / 1000),
      converged,
      history: {
        seeded: historyRecords,
        from: historyFrom,
        state: history?.state ?? null,
        done: history?.done ?? null,
        failed: history?.failed ?? null,
      },
      ...result!,
    };
    for (const p of all) await p.stop();
    return report;
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
  }
}

async function revokeAndReconnect(input: {
  qbo: QuickBooksEmulator;
  realmId: string;
  connectionId: string;
  main: EngineProcess;
  query: <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;
  say: (line: string) => void;
}): Promise<number> {
  // The user disconnects the app in QuickBooks: every token of the realm dies; ledgerlink notices at its next call.
  input.qbo.admin.revokeTokens({ realmId: input.realmId });
  input.say('revoked the QuickBooks connection');
  for (let i = 0; i < 20; i++) {
    const rows = await input.query<{ status: string }>(`SELECT status FROM connections WHERE id = $1`, [
      input.connectionId,
    ]);
    if (rows[0]?.status === 'revoked') break;
    await sleep(500);
  }
  // ...and reconnects from the dashboard a little later (fresh tokens, same connection).
  input.say('the connection shows as revoked; reconnecting');
  await sleep(2000);
  const tokens = input.qbo.admin.mintToken(input.realmId);
  for (let attempt = 0; ; attempt++) {
    try {
      await input.main.request({
        type: 'reconnect',
        connectionId: input.connectionId,
        realmId: input.realmId,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
      });
      break;
    } catch (error) {
      if (attempt > 40) throw error;
      await sleep(500);
    }
  }
  input.say('reconnected QuickBooks');
  return 1;
}

function mergeCounts(...maps: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of maps) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function sumCounts(m: Record<string, number>): number {
  return Object.values(m).reduce((a, b) => a + b, 0);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
