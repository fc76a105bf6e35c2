// The durable job queue: pg-boss on the store (PGlite through pg-boss's `db` option, or the PostgreSQL server).
// On top of it, two rules of the design:
// - one job per record at a time: each job names a record key; a worker takes a lease on the key before it
//   runs the handler, and a job that finds its record busy is put back a moment later (not counted as a failure);
// - events collapse: queues use pg-boss's 'short' policy, so a record has at most one job waiting; the job reads
//   the record's current state when it runs, so the waiting job covers every event that arrived meanwhile.
import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Db, Queryable } from '../store/db.ts';
import type { QueueStats } from '../metrics.ts';

export interface JobData {
  connectionId: string;
  /** The record this job syncs; jobs with the same key never run at once. */
  key: string;
  [field: string]: unknown;
}

export interface JobContext {
  jobId: string;
  attempt: number;
  /** True on the last try: a failure now parks the job as an error for a person to retry. */
  lastAttempt: boolean;
  /** When this try started, by the store's clock. */
  startedAt: Date;
}

export type JobHandler = (data: JobData, context: JobContext) => Promise<void>;

export interface QueueDefinition {
  name: string;
  handler: JobHandler;
  /** Jobs of this queue run at once in this process. */
  concurrency?: number;
  retryLimit?: number;
  retryDelaySeconds?: number;
  /**
   * The record lease a job takes before it runs: 'store' (the default) holds it in the store, across processes;
   * 'process' only among this process's jobs. 'process' is for a job that writes nothing itself and hands each
   * record it finds to `withLease` (an order job: its transactions are synced under their own leases): a lease in
   * the store would cost two statements and protect nothing the inner ones do not, while the in-process one still
   * runs an order's two webhooks one after the other, so the second finds the work done without reading it again.
   */
  recordLease?: 'store' | 'process';
  /** Called when a job fails for the last time (after the handler's own error reporting). */
  onGiveUp?: (data: JobData, error: unknown) => Promise<void>;
  /** Called when a failed job has been put back for another try, with when that try is due (see nextTryOf). */
  onRetry?: (data: JobData, error: unknown, nextTryAt: Date | undefined) => Promise<void>;
}

export interface JobQueueOptions {
  /** Seconds between polls when idle (pg-boss allows 0.5 at least); in-process enqueues wake workers at once. */
  pollingIntervalSeconds?: number;
  /** A job still active after this long is taken for dead (its worker was killed) and retried. */
  expireInSeconds?: number;
  /** Seconds a record lease lasts without renewal. */
  leaseSeconds?: number;
  /** Whether this process runs pg-boss's maintenance (expiring dead jobs, archiving). */
  supervise?: boolean;
  /** Where the queue's own troubles are logged (maintenance errors, a store that cannot be reached). */
  log?: Logger;
}


/** A job waits this long at most for this process's holder of its record, then goes back on the queue. */
const LOCAL_LEASE_WAIT_MS = 2000;

export class JobQueue {
  private readonly runners = new Map<string, QueueRunner>();
  private readonly definitions = new Map<string, QueueDefinition>();
  private readonly holder = randomUUID();
  /** Record leases this process holds, each settled when released (see acquireLease). */
  private readonly localLeases = new Map<string, Promise<void>>();
  private stopped = false;

  private constructor(
    private readonly db: Db,
    private readonly boss: PgBoss,
    private readonly options: JobQueueOptions,
  ) {}

  static async start(db: Db, options: JobQueueOptions = {}): Promise<JobQueue> {
    const boss = new PgBoss({
      db: { executeSql: (text: string, values?: unknown[]) => executeSql(db, text, values) },
      supervise: options.supervise ?? true,
      schedule: false,
      migrate: true,
      // Expired jobs (a killed worker's) are found by maintenance: run it at least as often as jobs expire.
      maintenanceIntervalSeconds: Math.max(1, Math.min(30, options.expireInSeconds ?? 120)),
      monitorStateIntervalSeconds: 60,
    });
    boss.on('error', (error) => {
      // pg-boss reports maintenance problems here; they are retried by pg-boss itself.
      options.log?.warn({ err: error }, 'job queue maintenance failed; it will try again');
    });
    await boss.start();
    return new JobQueue(db, boss, options);
  }

  async define(definition: QueueDefinition): Promise<void> {
    this.definitions.set(definition.name, definition);
    const settings: PgBoss.Queue = {
      name: definition.name,
      policy: 'short',
      retryLimit: definition.retryLimit ?? 6,
      retryDelay: definition.retryDelaySeconds ?? 2,
      retryBackoff: true,
      expireInSeconds: this.options.expireInSeconds ?? 120,
    };
    await this.boss.createQueue(definition.name, settings);
    // createQueue keeps an existing queue as it was: without this, a changed LEDGERLINK_JOB_EXPIRE_SECONDS (or
    // retry setting) never reached queues created by an earlier start, and a killed worker's jobs stayed
    // "active" for the old expiry (found by the chaos run: 120 s instead of 15 s).
    await this.boss.updateQueue(definition.name, settings);
  }

  /** Starts this process's workers for every defined queue. */
  async work(): Promise<void> {
    for (const definition of this.definitions.values()) {
      if (this.runners.has(definition.name)) continue;
      const runner = new QueueRunner(this.boss, definition, this.options.pollingIntervalSeconds ?? 0.5, (job) => this.run(definition, job), this.options.log);
      this.runners.set(definition.name, runner);
      runner.start();
    }
  }

  /**
   * Puts a job on the queue; `q` may be an open transaction (the inbox insert and the job commit together).
   * Returns the job id, or null when the record already has a job waiting (that job covers this event).
   */
  async enqueue(name: string, data: JobData, options: { q?: Queryable; startAfterSeconds?: number; priority?: number } = {}): Promise<string | null> {
    const sendOptions: PgBoss.SendOptions = { singletonKey: data.key };
    if (options.startAfterSeconds) sendOptions.startAfter = options.startAfterSeconds;
    if (options.priority) sendOptions.priority = options.priority;
    if (options.q) {
      const q = options.q;
      sendOptions.db = { executeSql: async (text: string, values: unknown[]) => q.query(text, values) };
    }
    const id = await this.boss.send(name, data, sendOptions);
    if (!options.q) this.wake(name);
    return id;
  }

  /**
   * The insert `enqueue` makes, as SQL for the caller to run inside a statement of its own: the webhook intake
   * stores an event and its job in one statement (one round trip to the store instead of BEGIN, two inserts and
   * COMMIT, on the path of every event). `source` names the caller's CTE that yields one row with an `id` column
   * (the inbox row); the job's data is `data` plus `inboxId` = that id. Parameters are numbered from `first`.
   * (pg-boss's table written as jobInsertSql says.)
   */
  jobInsertFrom(name: string, data: JobData, source: string, first: number): { sql: string; params: unknown[] } {
    if (!this.definitions.has(name)) throw new Error(`queue ${name} is not defined`);
    const p = (n: number) => `$${first + n - 1}`;
    return {
      sql: jobInsertSql(`${p(2)}::jsonb || jsonb_build_object('inboxId', s.id)`, p(3), '0', `${source} s`, p(1)),
      params: [name, JSON.stringify(data), data.key],
    };
  }

  /**
   * Puts many jobs of one queue on it in one statement (a poll's page of payments was a statement per job); each
   * job as `enqueue` would make it, a record that already has a job waiting getting none. Returns how many were
   * made, and wakes this process's workers of the queue.
   */
  async enqueueMany(name: string, jobs: ReadonlyArray<{ data: JobData; priority?: number }>): Promise<number> {
    if (jobs.length === 0) return 0;
    if (!this.definitions.has(name)) throw new Error(`queue ${name} is not defined`);
    const result = await this.db.query(
      jobInsertSql('s.data', 's.key', 's.priority', 'unnest($2::jsonb[], $3::text[], $4::int[]) AS s(data, key, priority)', '$1'),
      [name, jobs.map((j) => JSON.stringify(j.data)), jobs.map((j) => j.data.key), jobs.map((j) => j.priority ?? 0)],
    );
    this.wake(name);
    return result.rows.length;
  }

  /**
   * Fairness between connections. Workers take the waiting job of highest priority first (then the oldest), so a
   * producer that enqueues many jobs of one connection at once (a poll, a sweep) numbers them from the
   * connection's current backlog downwards: the k-th job waiting for a connection gets priority -k. Workers then
   * take the first waiting job of every connection before the second of any, and a connection with a backlog of
   * thousands delays the others by one job each, not by its whole backlog. Jobs of single events (webhooks) keep
   * priority 0 and are taken before any backlog.
   */
  backlog(name: string, connectionId: string): { next: () => Promise<number> } {
    let base: number | undefined;
    let given = 0;
    return {
      next: async () => {
        if (base === undefined) {
          const result = await this.db.query<{ n: string | number }>(
            `SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state < 'active' AND data->>'connectionId' = $2`,
            [name, connectionId],
          );
          base = Number(result.rows[0]?.n ?? 0);
        }
        given += 1;
        return -(base + given - 1);
      },
    };
  }

  /** Wakes this process's idle workers of a queue (after a transaction that enqueued has committed). */
  wake(name: string): void {
    this.runners.get(name)?.wake();
  }

  async counts(name: string): Promise<{ queued: number; active: number; failed: number }> {
    const result = await this.db.query<{ state: string; n: string | number }>(
      `SELECT state, count(*) AS n FROM pgboss.job WHERE name = $1 GROUP BY state`,
      [name],
    );
    const by = Object.fromEntries(result.rows.map((r) => [r.state, Number(r.n)]));
    return { queued: (by.created ?? 0) + (by.retry ?? 0), active: by.active ?? 0, failed: by.failed ?? 0 };
  }

  /**
   * Every defined queue's jobs by state, and how long its oldest due job has waited for a worker (since it became
   * due: a retry waiting for its backoff, or a job put back until later, is not waiting for a worker), for /metrics.
   * Read from the store in one statement, so the figures cover every process.
   */
  async stats(): Promise<QueueStats[]> {
    const result = await this.db.query<{ name: string; queued: string | number; running: string | number; failed: string | number; oldest: string | number | null }>(
      `SELECT name,
         count(*) FILTER (WHERE state IN ('created', 'retry')) AS queued,
         count(*) FILTER (WHERE state = 'active') AS running,
         count(*) FILTER (WHERE state = 'failed') AS failed,
         EXTRACT(EPOCH FROM now() - min(start_after) FILTER (WHERE state IN ('created', 'retry') AND start_after <= now())) AS oldest
       FROM pgboss.job WHERE state IN ('created', 'retry', 'active', 'failed') GROUP BY name`,
    );
    const by = new Map(result.rows.map((r) => [r.name, r]));
    return [...this.definitions.keys()].sort().map((queue) => {
      const row = by.get(queue);
      return {
        queue,
        queued: Number(row?.queued ?? 0),
        running: Number(row?.running ?? 0),
        failed: Number(row?.failed ?? 0),
        oldestWaitingSeconds: Math.max(0, Number(row?.oldest ?? 0)),
      };
    });
  }

  /** Waits until no job of these queues is waiting or running (tests and the demo). */
  async idle(names: string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let busy = 0;
      for (const name of names) {
        const c = await this.counts(name);
        busy += c.queued + c.active;
      }
      if (busy === 0) return;
      if (Date.now() > deadline) throw new Error(`queues ${names.join(', ')} still busy after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.runners.values()].map((runner) => runner.stop(10_000)));
    await this.boss.stop({ graceful: true, close: false, wait: true, timeout: 10_000 });
  }

  /**
   * Runs a job under its record lease. Returns how to complete it: a job done completes and releases its lease in
   * one statement (completeJob); a job that fails releases the lease at once and is failed by the runner.
   */
  private async run(definition: QueueDefinition, job: PgBoss.JobWithMetadata<JobData>): Promise<() => Promise<void>> {
    const lease = await this.acquireLease(job.data.key, definition.recordLease ?? 'store');
    if (!lease) {
      // Another worker holds the record: run again shortly, without spending one of this job's retries.
      await this.enqueue(definition.name, job.data, { startAfterSeconds: 1 });
      return () => this.completeJob(definition.name, job.id);
    }
    const context: JobContext = { jobId: job.id, attempt: job.retryCount + 1, lastAttempt: job.retryCount >= job.retryLimit, startedAt: new Date(job.startedOn ?? Date.now()) };
    try {
      await definition.handler(job.data, context);
    } catch (error) {
      if (context.lastAttempt && definition.onGiveUp) await definition.onGiveUp(job.data, error).catch(() => {});
      await lease.release();
      throw error;
    }
    return async () => {
      try {
        await this.completeJob(definition.name, job.id, lease.storeKey);
      } catch (error) {
        await lease.release(); // the completion did not happen, nor the release with it
        throw error;
      }
      lease.free();
    };
  }

  /**
   * pg-boss's `complete` (completeJobs in its plans.js: state completed, completed_on now, output null for a job
   * that returns nothing), with the job's record lease released in the same statement: one round trip a job less.
   * A test compares a job completed this way with one pg-boss completes.
   */
  private async completeJob(name: string, id: string, leaseKey?: string): Promise<void> {
    await this.db.query(
      `WITH released AS (DELETE FROM record_leases WHERE key = $3 AND holder = $4 RETURNING key)
       UPDATE pgboss.job SET completed_on = now(), state = 'completed', output = NULL WHERE name = $1 AND id = $2::uuid AND state = 'active'`,
      [name, id, leaseKey ?? null, this.holder],
    );
  }

  /**
   * Runs `fn` holding the record lease of `key`, as a job of that key would: for work done inline by another job
   * (an order job syncing its transaction). Returns false, without running it, when the record is busy.
   */
  async withLease(key: string, fn: () => Promise<void>): Promise<boolean> {
    const lease = await this.acquireLease(key);
    if (!lease) return false;
    try {
      await fn();
      return true;
    } finally {
      await lease.release();
    }
  }

  /**
   * Takes the record lease of `key`, or returns undefined when another holder has it. When the holder is this
   * process (an order's two webhooks a few milliseconds apart), the job waits for it in memory instead of
   * spending statements on a lease it cannot have and on putting itself back for a second later.
   */
  private async acquireLease(key: string, scope: 'store' | 'process' = 'store'): Promise<Lease | undefined> {
    const until = Date.now() + LOCAL_LEASE_WAIT_MS;
    for (let held = this.localLeases.get(key); held; held = this.localLeases.get(key)) {
      const left = until - Date.now();
      if (left <= 0) return undefined;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([held, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    let done!: () => void;
    this.localLeases.set(key, new Promise<void>((resolve) => (done = resolve)));
    const free = () => {
      this.localLeases.delete(key);
      done();
    };
    if (scope === 'process') {
      return { release: async () => free(), free };
    }
    let taken = false;
    try {
      taken = await this.takeLease(key);
    } finally {
      if (!taken) free();
    }
    if (!taken) return undefined;
    return {
      storeKey: key,
      release: async () => {
        try {
          await this.releaseLease(key);
        } catch {
          // the lease expires by itself
        } finally {
          free();
        }
      },
      free,
    };
  }

  private async takeLease(key: string): Promise<boolean> {
    const seconds = this.options.leaseSeconds ?? 120;
    const result = await this.db.query(
      `INSERT INTO record_leases (key, holder, expires_at) VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
       ON CONFLICT (key) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE record_leases.expires_at < clock_timestamp()
       RETURNING key`,
      [key, this.holder, seconds],
    );
    return result.rows.length === 1;
  }

  private async releaseLease(key: string): Promise<void> {
    await this.db.query(`DELETE FROM record_leases WHERE key = $1 AND holder = $2`, [key, this.holder]);
  }
}

/** A record lease held: `release` gives it up; `free` lets this process's waiters go once the store's row is gone. */
interface Lease {
  /** The key of the lease row in the store (none for a lease kept in this process only). */
  storeKey?: string;
  release: () => Promise<void>;
  free: () => void;
}

/**
 * The workers of one queue in this process. pg-boss's own `work()` runs one polling loop per unit of
 * concurrency, each fetching one job at a time (eleven queues at four each were thirty loops polling the store
 * every half second while idle, and a busy queue paid one fetch statement per job). A runner is one loop per
 * queue: it fetches as many jobs as it has free slots in one statement, runs them side by side, completes or
 * fails each on its own, and fetches again as soon as a slot frees while the last fetch came back full. It
 * sleeps the polling interval only when the queue had nothing for it; an enqueue in this process wakes it.
 */
class QueueRunner {
  private stopped = false;
  private maybeMore = false;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly boss: PgBoss,
    private readonly definition: QueueDefinition,
    private readonly intervalSeconds: number,
    /** Runs a job; resolves to how to complete it (JobQueue.run). */
    private readonly handle: (job: PgBoss.JobWithMetadata<JobData>) => Promise<() => Promise<void>>,
    private readonly log: Logger | undefined,
  ) {}

  start(): void {
    this.loop = this.poll();
  }

  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    // Woken while fetching: the fetch may have missed what woke it, so the loop does not sleep after it.
    if (!wake) this.woken = true;
    wake?.();
  }

  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight.values()]), deadline]);
    // Jobs still running at the deadline go back to the queue now rather than when they expire.
    for (const id of this.inFlight.keys()) await this.boss.fail(this.definition.name, id, { message: 'the worker stopped while the job ran' }).catch(() => {});
  }

  private get running(): number {
    return this.inFlight.size;
  }

  private get capacity(): number {
    return Math.max(1, this.definition.concurrency ?? 2);
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      const free = this.capacity - this.running;
      let fetched = 0;
      if (free > 0) {
        try {
          const jobs = await this.boss.fetch<JobData>(this.definition.name, { batchSize: free, includeMetadata: true, priority: true });
          fetched = jobs.length;
          this.maybeMore = fetched === free;
          for (const job of jobs) this.launch(job);
        } catch (error) {
          // The store is unreachable for a moment: try again after the interval.
          this.log?.warn({ queue: this.definition.name, err: error }, 'could not fetch jobs; trying again');
        }
      }
      if (this.stopped) break;
      // A fetch that filled every free slot may have left more: fetch again at once while slots are free, else
      // wait for a slot to free (a finished job wakes the loop), an enqueue in this process, or the interval.
      if (this.running < this.capacity && fetched > 0 && this.maybeMore) continue;
      await this.sleep(this.intervalSeconds * 1000);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), ms);
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = undefined;
        resolve();
      };
      this.wakeUp = done;
    });
  }

  private launch(job: PgBoss.JobWithMetadata<JobData>): void {
    const run = (async () => {
      try {
        const complete = await this.handle(job);
        await complete();
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // A failure to record the failure leaves the job active: it expires and runs again.
        const failed = await this.boss.fail(this.definition.name, job.id, { message }).then(() => true, () => false);
        if (failed && this.definition.onRetry && job.retryCount < job.retryLimit) {
          const nextTryAt = await nextTryOf(this.boss, this.definition.name, job.id).catch(() => undefined);
          await this.definition.onRetry(job.data, error, nextTryAt).catch((hookError) => this.log?.warn({ queue: this.definition.name, err: hookError }, 'could not record the retry'));
        }
      } finally {
        this.inFlight.delete(job.id);
        // A slot is free: fetch again at once if the queue may hold more; else the loop waits for the interval.
        if (this.maybeMore || this.stopped) this.wake();
      }
    })();
    this.inFlight.set(job.id, run);
  }
}

/**
 * The insert pg-boss's `send` makes, written here so that jobs can be made inside a caller's statement or many at
 * once: the queue's settings resolved as pg-boss 10's own insert does (`insertJob` in its plans.js: expiry,
 * retention, retries and policy from the queue row); singleton_on and dead letters per job are not used here. A
 * test compares a job made this way with one made by `send`, so an upgrade of pg-boss that changes the table fails
 * there.
 */
function jobInsertSql(data: string, key: string, priority: string, from: string, queueName: string): string {
  return `INSERT INTO pgboss.job (id, name, data, priority, start_after, singleton_key, dead_letter, expire_in, keep_until, retry_limit, retry_delay, retry_backoff, policy)
    SELECT gen_random_uuid(), q.name, ${data}, ${priority}, now(), ${key}, q.dead_letter,
      COALESCE(q.expire_seconds * interval '1s', interval '15 minutes'),
      now() + CAST(COALESCE((q.retention_minutes * 60)::text, '14 days') AS interval),
      COALESCE(q.retry_limit, 2),
      CASE WHEN COALESCE(q.retry_backoff, false) THEN GREATEST(q.retry_delay, 1) ELSE COALESCE(q.retry_delay, 0) END,
      COALESCE(q.retry_backoff, false), q.policy
    FROM ${from} JOIN pgboss.queue q ON q.name = ${queueName}
    ON CONFLICT DO NOTHING RETURNING id`;
}

/**
 * When a failed job's next try is due: pg-boss chooses it (retry delay, backoff with jitter) as it fails the job, and
 * tells it through its public getJobById. The one place that reads a job's retry state.
 */
async function nextTryOf(boss: PgBoss, name: string, id: string): Promise<Date | undefined> {
  const job = await boss.getJobById<JobData>(name, id);
  if (!job || job.state !== 'retry') return undefined;
  return new Date(job.startAfter);
}

/** pg-boss hands over SQL with or without values; PGlite runs multi-statement text only through exec. */
async function executeSql(db: Db, text: string, values?: unknown[]): Promise<{ rows: unknown[] }> {
  if ((!values || values.length === 0) && db.kind === 'pglite') {
    const results = await db.pglite!.exec(text);
    return { rows: results.at(-1)?.rows ?? [] };
  }
  return db.query(text, values ?? []);
}

