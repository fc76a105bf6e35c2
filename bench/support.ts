// The system under measurement, wired as test/support/stack.ts wires it, with what benchmarks need besides:
// any number of connections, scaled or lifted limits on both sides (emulators and engine alike), a choice of
// store (PGlite in-process, or a fresh database on a PostgreSQL server), provider call counters read at the
// emulators, and a fetch probe that times every provider call made from this process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import pg from 'pg';
import { createTestDatabase } from '../test/support/db.ts';
import { emulatorProviderEnv } from '../test/support/stack.ts';
import pino from 'pino';
import { startQuickBooksEmulator, type QuickBooksEmulator } from '../emulators/quickbooks/index.ts';
import { startHighLevelEmulator, type HighLevelEmulator } from '../emulators/highlevel/index.ts';
import type { RequestObserver, ServedRequest } from '../emulators/common/http.ts';
import { SecretBox } from '../src/store/secrets.ts';
import type { Connection } from '../src/store/connections.ts';
import { openDb, type Db, type Queryable } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { Engine } from '../src/sync/engine/engine.ts';
import { connectWithTokens } from '../src/sync/connections/connect.ts';
import { buildServer } from '../src/server/app.ts';

export const QBO_VERIFIER = 'bench-verifier-token';

/** Providers' limits as documented (per realm / per location); the emulators enforce them scaled by a factor. */
export const QBO_PER_MINUTE = 500;
export const HL_PER_10S = 100;

export interface ScenarioResult {
  scenario: number;
  name: string;
  status: 'ok' | string;
  records: number;
  seconds: number;
  [field: string]: unknown;
}

export interface BenchStackOptions {
  connections?: number;
  /** Scales both emulators' and the engine's limits; Infinity lifts them everywhere. */
  limitFactor: number;
  store: 'pglite' | 'postgres';
  /** Start this process's workers (false when worker processes do the work). */
  workers?: boolean;
  concurrency?: number;
  /** Receive webhooks (the server listens and both emulators deliver to it). */
  webhooks?: boolean;
  country?: 'US' | 'CA' | 'GB' | 'AU';
  /** Sees every request both emulators serve, timed at the emulator. */
  observe?: RequestObserver;
  /**
   * Work done in each location before anything is connected or webhooks are delivered (records that predate the
   * connection, for the history backfill). `admin` is the HighLevel emulator's admin API, in-process.
   */
  beforeConnect?: (location: {
    locationId: string;
    admin: <T>(path: string, body: unknown) => Promise<T>;
  }) => Promise<void>;
}

export interface BenchStack {
  db: Db;
  databaseUrl: string | undefined;
  qbo: QuickBooksEmulator;
  hl: HighLevelEmulator;
  engine: Engine;
  server: FastifyInstance;
  url: string;
  connections: Connection[];
  /** Webhook arrivals at ledgerlink's server (performance.now() ms), with their parsed bodies. */
  webhookArrivals: Array<{ at: number; body: Record<string, unknown> }>;
  workerEnv(): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export function databaseServerUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:55433/postgres';
}

export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseServerUrl(), connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const created = await createTestDatabase(databaseServerUrl(), 'll_bench');
  if (!created) throw new Error('no PostgreSQL server for the benchmark');
  return { url: created.databaseUrl, drop: created.drop };
}

export async function startBenchStack(options: BenchStackOptions): Promise<BenchStack> {
  const country = options.country ?? 'US';
  const lifted = !Number.isFinite(options.limitFactor);
  const created = options.store === 'postgres' ? await freshDatabase() : undefined;
  const db = countStatements(await openDb({ databaseUrl: created?.url }));
  await migrate(db);
  const n = options.connections ?? 1;
  const qbo = await startQuickBooksEmulator({
    companies: Array.from({ length: n }, (_, i) => ({ country, name: `Books ${i + 1}` })),
    ...(lifted ? { limits: false as const } : { limitFactor: options.limitFactor }),
    webhookRetryScheduleMs: [200, 400],
    // Every write of a run must be remembered, or a retried requestid would write twice.
    requestIdCacheSize: 400_000,
    ...(options.observe ? { observe: options.observe } : {}),
  });
  const hl = await startHighLevelEmulator({
    limitFactor: options.limitFactor,
    webhookRetryScheduleMs: [200, 400],
    ...(options.observe ? { observe: options.observe } : {}),
  });
  const secretKey = randomBytes(32).toString('base64');
  const secrets = SecretBox.fromText(secretKey);
  const providers = {
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
  const engine = await Engine.create({
    db,
    secrets,
    publicUrl: 'http://127.0.0.1:0',
    providers,
    logger: pino({ level: process.env.LEDGERLINK_BENCH_LOG ?? 'silent' }),
    limits: !lifted,
    limitFactor: lifted ? 1 : options.limitFactor,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    pollSeconds: 3600,
    queue: { pollingIntervalSeconds: Number(process.env.LEDGERLINK_BENCH_POLL ?? 0.5) },
  });
  const server = await buildServer(engine);
  // Arrival times are taken before Fastify parses anything, bodies once parsed: the latency scenario starts its
  // clock when the webhook reaches ledgerlink, not when the emulator decided to send it.
  const arrivedAt = new WeakMap<FastifyRequest, number>();
  const webhookArrivals: BenchStack['webhookArrivals'] = [];
  server.addHook('onRequest', async (request) => {
    arrivedAt.set(request, performance.now());
  });
  server.addHook('preHandler', async (request) => {
    if (!request.url.startsWith('/webhooks/highlevel')) return;
    // The webhook routes take the raw bytes (signatures are over them): parse a copy.
    const raw = request.body;
    let body: unknown = raw;
    try {
      if (Buffer.isBuffer(raw)) body = JSON.parse(raw.toString('utf8'));
      else if (typeof raw === 'string') body = JSON.parse(raw);
    } catch {
      return;
    }
    if (body && typeof body === 'object')
      webhookArrivals.push({ at: arrivedAt.get(request) ?? performance.now(), body: body as Record<string, unknown> });
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const address = server.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const locations = Array.from({ length: n }, (_, i) => hl.createLocation({ country, name: `Location ${i + 1}` }));
  for (const location of locations) {
    await options.beforeConnect?.({
      locationId: location.id,
      admin: async <T>(path: string, body: unknown): Promise<T> => {
        const response = await hl.context.app.inject({
          method: 'POST',
          url: `/_emulator${path}`,
          payload: body as Record<string, unknown>,
        });
        if (response.statusCode >= 400)
          throw new Error(`HighLevel admin ${path}: ${response.statusCode} ${response.body}`);
        return response.json() as T;
      },
    });
  }
  if (options.webhooks) {
    qbo.admin.configureWebhooks([
      { url: `${url}/webhooks/quickbooks`, verifierToken: QBO_VERIFIER, format: 'cloudevents', windowMs: 100 },
    ]);
    hl.core.webhooks.config.url = `${url}/webhooks/highlevel`;
  }
  const connections: Connection[] = [];
  for (let i = 0; i < n; i++) {
    const realmId = qbo.realmIds[i]!;
    const location = locations[i]!;
    const qboTokens = qbo.admin.mintToken(realmId);
    const hlTokens = hl.mintToken(location.id);
    connections.push(
      await connectWithTokens(engine, {
        name: `Bench ${i + 1}`,
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
      }),
    );
  }
  // Connecting read company facts through both APIs: counters start from here.
  qbo.admin.limits.reset();
  if (options.workers !== false) await engine.startWorkers({ pollers: false });
  return {
    db,
    databaseUrl: created?.url,
    qbo,
    hl,
    engine,
    server,
    url,
    connections,
    webhookArrivals,
    workerEnv: () => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(created ? { DATABASE_URL: created.url } : {}),
      LEDGERLINK_SECRET_KEY: secretKey,
      LEDGERLINK_LOG_LEVEL: process.env.LEDGERLINK_BENCH_LOG ?? 'warn',
      ...(lifted ? { LEDGERLINK_LIMITS_OFF: '1' } : {}),
      LEDGERLINK_POLL_SECONDS: '3600',
      // Passed on for comparisons (LEDGERLINK_PREPARED_STATEMENTS=false npm run bench ...).
      ...(process.env.LEDGERLINK_PREPARED_STATEMENTS
        ? { LEDGERLINK_PREPARED_STATEMENTS: process.env.LEDGERLINK_PREPARED_STATEMENTS }
        : {}),
      ...emulatorProviderEnv(qbo, hl, QBO_VERIFIER),
    }),
    close: async () => {
      await server.close();
      await engine.stop();
      await hl.close();
      await qbo.close();
      await db.close();
      await created?.drop();
    },
  };
}

/** SQL statements run through the store (by their first words), to see what each record costs the database. */
export const statements = new Map<string, number>();

export function statementCount(): number {
  let total = 0;
  for (const n of statements.values()) total += n;
  return total;
}

function countStatements(db: Db): Db {
  const note = (sql: string) => {
    const key = sql.replace(/\s+/g, ' ').trim().slice(0, 90);
    statements.set(key, (statements.get(key) ?? 0) + 1);
  };
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => {
      note(sql);
      return q.query(sql, params);
    },
  });
  return {
    ...db,
    query: wrap(db).query,
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
  };
}

/** Provider calls counted at the emulators. HighLevel's counter includes admin calls, so those go through `hlAdmin`. */
export class CallCounter {
  private adminCalls = 0;

  constructor(private readonly stack: Pick<BenchStack, 'qbo' | 'hl'>) {}

  qbo(realmIds?: readonly string[]): { calls: number; units: number; throttled: number } {
    const total = { calls: 0, units: 0, throttled: 0 };
    for (const [realm, c] of this.stack.qbo.admin.limits.counts) {
      if (realmIds && !realmIds.includes(realm)) continue;
      total.calls += c.calls;
      total.units += c.units;
      total.throttled += c.throttled;
    }
    return total;
  }

  /** HighLevel API calls (every location), admin calls made through hlAdmin left out. */
  hl(): number {
    return this.stack.hl.core.requestCount - this.adminCalls;
  }

  /** An admin call to the HighLevel emulator, in-process (no socket), not counted as a provider call. */
  async hlAdmin<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: unknown): Promise<T> {
    this.adminCalls += 1;
    const response = await this.stack.hl.context.app.inject({
      method,
      url: `/_emulator${path}`,
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    if (response.statusCode >= 400)
      throw new Error(`HighLevel admin ${method} ${path}: ${response.statusCode} ${response.body}`);
    return response.json() as T;
  }
}

/** Provider calls made from this process (the engine's clients), timed; installed before any client exists. */
export interface ProbedCall {
  url: string;
  method: string;
  start: number;
  end: number;
  status: number;
  /** The request body, when it was text. */
  body?: string;
}

/** When the first Order* webhook of each order left the HighLevel emulator (this process's fetch), by order id. */
export function firstOrderWebhooks(calls: readonly ProbedCall[]): Map<string, number> {
  const first = new Map<string, number>();
  for (const call of calls) {
    if (!call.url.includes('/webhooks/highlevel') || !call.body) continue;
    const body = JSON.parse(call.body) as Record<string, unknown>;
    if (!String(body.type ?? '').startsWith('Order')) continue;
    const id = String(body._id ?? body.id ?? body.orderId ?? '');
    if (id && !first.has(id)) first.set(id, call.start);
  }
  return first;
}

/** When QuickBooks answered each sales receipt write (timed at the emulator), by its requestid. */
export function receiptWritesAnswered(served: readonly ServedRequest[]): Map<string, number> {
  const answered = new Map<string, number>();
  for (const request of served) {
    if (request.method !== 'POST' || !/\/salesreceipt\?/i.test(request.url)) continue;
    const requestId = new URL(request.url, 'http://emulator').searchParams.get('requestid');
    if (requestId && !answered.has(requestId)) answered.set(requestId, request.end);
  }
  return answered;
}

export class FetchProbe {
  readonly calls: ProbedCall[] = [];
  recording = false;
  private readonly original = globalThis.fetch;

  install(): void {
    const original = this.original;
    globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      if (!this.recording) return original(input, init);
      const start = performance.now();
      const response = await original(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
      this.calls.push({
        url,
        method: init?.method ?? 'GET',
        start,
        end: performance.now(),
        status: response.status,
        ...(typeof init?.body === 'string' ? { body: init.body } : {}),
      });
      return response;
    };
  }

  uninstall(): void {
    globalThis.fetch = this.original;
  }
}

/** Counts of linked records of a kind, per connection. */
export async function linkedCounts(db: Db, kind: string): Promise<Map<string, number>> {
  const rows = await db.query<{ connection_id: string; n: string | number }>(
    `SELECT connection_id, count(*) AS n FROM links WHERE kind = $1 AND state = 'linked' GROUP BY connection_id`,
    [kind],
  );
  return new Map(rows.rows.map((r) => [r.connection_id, Number(r.n)]));
}

export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Samples this process's RSS; `peak()` is the highest seen (and process.resourceUsage's maxRSS as a floor). */
export class RssSampler {
  private max = 0;
  private timer: NodeJS.Timeout | undefined;

  start(everyMs = 50): void {
    this.max = process.memoryUsage.rss();
    this.timer = setInterval(() => {
      this.max = Math.max(this.max, process.memoryUsage.rss());
    }, everyMs);
    this.timer.unref();
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    return this.peakMb();
  }

  peakMb(): number {
    return Math.max(this.max, process.memoryUsage.rss()) / (1024 * 1024);
  }
}

/** A deterministic pseudo-random sequence (mulberry32), so runs of the same size do the same work. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A `ledgerlink worker` or `ledgerlink start` process, ready once it says it is running (start: with its URL). */
export async function startLedgerlinkProcess(
  command: 'worker' | 'start',
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string | undefined }> {
  const bin = fileURLToPath(new URL('../bin/ledgerlink.js', import.meta.url));
  // LEDGERLINK_BENCH_NODE_ARGS, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof', profiles the processes a scenario starts.
  const nodeArgs = (process.env.LEDGERLINK_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, bin, command], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string | undefined>((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const running = /ledgerlink(?: worker)? is running(?: at (\S+))?/.exec(seen);
      if (running) resolve(running[1]);
    });
    child.once('exit', (code) => reject(new Error(`ledgerlink ${command} exited with ${code}`)));
  });
  return { child, url };
}

export async function stopLedgerlinkProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await Promise.race([new Promise((r) => child.once('exit', r)), sleep(10_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}
