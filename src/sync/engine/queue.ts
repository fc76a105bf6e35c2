// The durable job queue: pg-boss on the store (PGlite or the PostgreSQL server, both through pg-boss's `db` option),
// used through its public API only (send/insert, fetch/complete/fail, queue settings and counts): nothing here
// reads or writes pg-boss's tables, whose layout is pg-boss's own to change between versions.
// On top of it, two rules of the design:
// - one job per record at a time: each job names a record key; a worker takes a lease on the key before it
//   runs the handler, and a job that finds its record busy is put back a moment later (not counted as a failure);
// - events collapse: queues use pg-boss's 'short' policy, so a record has at most one job waiting; the job reads
//   the record's current state when it runs, so the waiting job covers every event that arrived meanwhile.
import { randomUUID } from 'node:crypto';
import { PgBoss, type Db as BossDb, type JobWithMetadata, type Queue, type SendOptions } from 'pg-boss';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import type pg from 'pg';
import type { Db, Queryable } from '../../store/db.ts';
import type { QueueStats } from '../../metrics.ts';

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

export interface EnqueueOptions {
  /** Enqueue inside this transaction (the job exists once it commits). */
  q?: Queryable;
  startAfterSeconds?: number;
  priority?: number;
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
  /** The payload's schema: a job that does not fit it is refused at enqueue, before it reaches the store. */
  payload?: ZodType<JobData>;
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
    // pg-boss finds jobs whose worker died (expiry) and refreshes the queue counts that /metrics reads in its
    // supervise pass, at most once per the longer of these two intervals: as often as jobs expire, within reason.
    const pass = Math.max(1, Math.min(30, options.expireInSeconds ?? 120));
    const boss = new PgBoss({
      db: bossDb(db),
      backend: db.kind === 'pglite' ? 'pglite' : 'postgres',
      supervise: options.supervise ?? true,
      superviseIntervalSeconds: pass,
      monitorIntervalSeconds: pass,
      // Deleting completed jobs past their retention; nothing here waits on it.
      maintenanceIntervalSeconds: 300,
      // The oldest ready job's wait (a /metrics gauge) is counted only when pg-boss records its stats.
      persistQueueStats: true,
      schedule: false,
      migrate: true,
      // The process's own health is ledgerlink's to report (/metrics, readiness), not a registry in the store.
      registerInstance: false,
    });
    boss.on('error', (error) => {
      // pg-boss reports maintenance problems here; they are retried by pg-boss itself.
      options.log?.warn({ err: error }, 'job queue maintenance failed; it will try again');
    });
    await boss.start();
    return new JobQueue(db, boss, options);
  }

  /** pg-boss itself, for tests and tools that look at jobs through its API (findJobs, update, cancel). */
  get pgBoss(): PgBoss {
    return this.boss;
  }

  async define(definition: QueueDefinition): Promise<void> {
    this.definitions.set(definition.name, definition);
    const settings = {
      retryLimit: definition.retryLimit ?? 6,
      retryDelay: definition.retryDelaySeconds ?? 2,
      retryBackoff: true,
      expireInSeconds: this.options.expireInSeconds ?? 120,
    } satisfies Omit<Queue, 'name'>;
    await this.boss.createQueue(definition.name, { policy: 'short', ...settings });
    // createQueue keeps an existing queue as it was: without this, a changed LEDGERLINK_JOB_EXPIRE_SECONDS (or
    // retry setting) never reached queues created by an earlier start, and a killed worker's jobs stayed
    // "active" for the old expiry (found by the chaos run: 120 s instead of 15 s).
    await this.boss.updateQueue(definition.name, settings);
    await this.carryOver(definition.name);
  }

  /**
   * Sends again, through pg-boss, the jobs of this queue that a store copied from pg-boss 10's schema when it
   * moved to pg-boss 12 (migration 016), and deletes the copies, in one transaction; nothing on every later start.
   */
  private async carryOver(name: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const copied = await tx.query<{ data: JobData | string; priority: number; start_after: Date | string }>(
        `DELETE FROM queue_carryover WHERE queue = $1 RETURNING data, priority, start_after`,
        [name],
      );
      if (copied.rows.length === 0) return;
      const jobs = copied.rows.map((row) => {
        const data = typeof row.data === 'string' ? (JSON.parse(row.data) as JobData) : row.data;
        return { data, singletonKey: data.key, priority: Number(row.priority), startAfter: new Date(row.start_after) };
      });
      await this.boss.insert(name, jobs, { db: bossDbIn(tx) });
      this.options.log?.info({ queue: name, jobs: jobs.length }, "jobs carried over from pg-boss 10's schema");
    });
  }

  /** Starts this process's workers for every defined queue. */
  async work(): Promise<void> {
    for (const definition of this.definitions.values()) {
      if (this.runners.has(definition.name)) continue;
      const runner = new QueueRunner(
        this.boss,
        definition,
        this.options.pollingIntervalSeconds ?? 0.5,
        (job) => this.run(definition, job),
        this.options.log,
      );
      this.runners.set(definition.name, runner);
      runner.start();
    }
  }

  /**
   * Puts a job on the queue; `q` may be an open transaction (the job commits with it: pg-boss's `db` option runs
   * its insert on the caller's connection). Returns the job id, or null when the record already has a job waiting
   * (that job covers this event). After a transaction the caller wakes the queue once it has committed.
   */
  async enqueue(name: string, data: JobData, options: EnqueueOptions = {}): Promise<string | null> {
    this.checkPayload(name, data);
    const sendOptions: SendOptions = { singletonKey: data.key };
    if (options.startAfterSeconds) sendOptions.startAfter = options.startAfterSeconds;
    if (options.priority) sendOptions.priority = options.priority;
    if (options.q) sendOptions.db = bossDbIn(options.q);
    const id = await this.boss.send(name, data, sendOptions);
    if (!options.q) this.wake(name);
    return id;
  }

  /**
   * Puts many jobs of one queue on it in one statement (pg-boss's `insert`), so that a poll's page of payments
   * costs one statement, not one per job; each job as `enqueue` would make it, a record that already has a job
   * waiting getting none. Returns how many were made, and wakes this process's workers of the queue.
   */
  async enqueueMany(name: string, jobs: ReadonlyArray<{ data: JobData; priority?: number }>): Promise<number> {
    if (jobs.length === 0) return 0;
    if (!this.definitions.has(name)) throw new Error(`queue ${name} is not defined`);
    for (const job of jobs) this.checkPayload(name, job.data);
    const ids = await this.boss.insert(
      name,
      jobs.map((j) => ({ data: j.data, singletonKey: j.data.key, priority: j.priority ?? 0 })),
      { returnId: true },
    );
    this.wake(name);
    return ids?.length ?? 0;
  }

  /** A job that does not fit its queue's payload schema is a bug in the code that made it: refused here, loudly. */
  private checkPayload(name: string, data: JobData): void {
    const schema = this.definitions.get(name)?.payload;
    if (!schema) return;
    const checked = schema.safeParse(data);
    if (!checked.success)
      throw new Error(
        `a ${name} job whose payload does not fit its schema: ${checked.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`)
          .join('; ')}`,
      );
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
          // pg-boss's findJobs reads at most BACKLOG_COUNTED jobs: a backlog beyond that counts as that many.
          base = (await this.boss.findJobs(name, { data: { connectionId }, queued: true, limit: BACKLOG_COUNTED }))
            .length;
        }
        given += 1;
        return -(base + given - 1);
      },
    };
  }

  /** Whether a job of this record key is waiting, due for a retry or running, in any process. */
  async hasUnfinished(name: string, key: string): Promise<boolean> {
    const jobs = await this.boss.findJobs(name, { key });
    return jobs.some((job) => job.state === 'created' || job.state === 'retry' || job.state === 'active');
  }

  /** Cancels the jobs of a queue still waiting to run whose payload holds `data`; returns how many. */
  async cancelWaiting(name: string, data: Record<string, unknown>): Promise<number> {
    const jobs = await this.boss.findJobs(name, { data, queued: true, limit: BACKLOG_COUNTED });
    if (jobs.length > 0)
      await this.boss.cancel(
        name,
        jobs.map((job) => job.id),
      );
    return jobs.length;
  }

  /** Wakes this process's idle workers of a queue (after a transaction that enqueued has committed). */
  wake(name: string): void {
    this.runners.get(name)?.wake();
  }

  /**
   * A queue's jobs by state, read now from the store (every process's jobs). pg-boss's own counts (getQueues)
   * are those of its last supervise pass, up to an interval old, so this reads the queue's jobs through
   * findJobs instead: for tests, the demo and `idle`, not for a path that runs per job.
   */
  async counts(name: string): Promise<{ queued: number; active: number; failed: number }> {
    const jobs = await this.boss.findJobs(name, { limit: BACKLOG_COUNTED });
    const by: Record<string, number> = {};
    for (const job of jobs) by[job.state] = (by[job.state] ?? 0) + 1;
    return { queued: (by.created ?? 0) + (by.retry ?? 0), active: by.active ?? 0, failed: by.failed ?? 0 };
  }

  /**
   * Every defined queue's jobs by state, and how long its oldest ready job had waited for a worker, for
   * /metrics: pg-boss's counts of every process's jobs as of its last supervise pass (getQueues, one statement;
   * at most one pass interval old, see `start`). A job waiting for its retry backoff, or put back until later,
   * is not counted as waiting for a worker.
   */
  async stats(): Promise<QueueStats[]> {
    const names = [...this.definitions.keys()].sort();
    if (names.length === 0) return [];
    const by = new Map((await this.boss.getQueues(names)).map((q) => [q.name, q]));
    return names.map((queue) => {
      const q = by.get(queue);
      return {
        queue,
        queued: Number(q?.queuedCount ?? 0),
        running: Number(q?.activeCount ?? 0),
        failed: Number(q?.failedCount ?? 0),
        oldestWaitingSeconds: Math.max(0, Number(q?.readyOldestSeconds ?? 0)),
      };
    });
  }

  /** Waits until no job of these queues is waiting or running (tests and the demo). */
  async idle(names: string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let busy = false;
      for (const name of names) {
        // A waiting job is found by reading one; only a queue with none waiting is read whole for running ones.
        busy =
          (await this.boss.findJobs(name, { queued: true, limit: 1 })).length > 0 ||
          (await this.counts(name)).active > 0;
        if (busy) break;
      }
      if (!busy) return;
      if (Date.now() > deadline) throw new Error(`queues ${names.join(', ')} still busy after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.runners.values()].map((runner) => runner.stop(10_000)));
    await this.boss.stop({ graceful: true, close: false, timeout: 10_000 });
  }

  /**
   * Runs a job under its record lease. Returns how to complete it: a job done releases its lease and is completed
   * by pg-boss, the two statements side by side; a job that fails releases the lease at once and is failed by
   * the runner.
   */
  private async run(definition: QueueDefinition, job: JobWithMetadata<JobData>): Promise<() => Promise<void>> {
    const lease = await this.acquireLease(job.data.key, definition.recordLease ?? 'store');
    if (!lease) {
      // Another worker holds the record: run again shortly, without spending one of this job's retries.
      await this.enqueue(definition.name, job.data, { startAfterSeconds: 1 });
      return () => this.complete(definition.name, job);
    }
    const context: JobContext = {
      jobId: job.id,
      attempt: job.retryCount + 1,
      lastAttempt: job.retryCount >= job.retryLimit,
      startedAt: new Date(job.startedOn ?? Date.now()),
    };
    try {
      await definition.handler(job.data, context);
    } catch (error) {
      if (context.lastAttempt && definition.onGiveUp) await definition.onGiveUp(job.data, error).catch(() => {});
      await lease.release();
      throw error;
    }
    return async () => {
      // On PostgreSQL the two run on two connections at once: a job costs one round trip of waiting, not two.
      // A completion that fails leaves the job active: it expires and runs again, under a lease of its own.
      await Promise.all([lease.release(), this.complete(definition.name, job)]);
    };
  }

  /**
   * pg-boss's `complete`, given the job as fetched (id and retry count): pg-boss then completes only the attempt
   * this worker ran, not a later one of the same job after this one was taken for dead.
   */
  private async complete(name: string, job: JobWithMetadata<JobData>): Promise<void> {
    await this.boss.complete(name, { id: job.id, retryCount: job.retryCount });
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
      return { release: async () => free() };
    }
    let taken = false;
    try {
      taken = await this.takeLease(key);
    } finally {
      if (!taken) free();
    }
    if (!taken) return undefined;
    return {
      release: async () => {
        try {
          await this.releaseLease(key);
        } catch {
          // the lease expires by itself
        } finally {
          free();
        }
      },
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

/** A record lease held: `release` gives it up, in the store when it is held there, and lets this process's waiters go. */
interface Lease {
  release: () => Promise<void>;
}

/**
 * The workers of one queue in this process, on pg-boss's fetch/complete/fail. pg-boss 12's own `work()` runs one
 * polling loop per unit of `localConcurrency`, each handing a fetched batch to one handler call and fetching again
 * only when the whole batch is done, so one slow job holds its loop's other slots (and eleven queues at four
 * loops each were forty-four loops polling the store while idle). A runner is one loop per queue: it fetches as
 * many jobs as it has free slots in one statement, runs them side by side, completes or fails each on its own,
 * and fetches again as soon as a slot frees while the last fetch came back full. It sleeps the polling interval
 * only when the queue had nothing for it; an enqueue in this process wakes it.
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
    private readonly handle: (job: JobWithMetadata<JobData>) => Promise<() => Promise<void>>,
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
    for (const id of this.inFlight.keys())
      await this.boss
        .fail(this.definition.name, id, { message: 'the worker stopped while the job ran' })
        .catch(() => {});
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
          // Highest priority first, then the oldest (pg-boss 12 always fetches in that order).
          const jobs = await this.boss.fetch<JobData>(this.definition.name, { batchSize: free, includeMetadata: true });
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

  private launch(job: JobWithMetadata<JobData>): void {
    const run = (async () => {
      try {
        const complete = await this.handle(job);
        await complete();
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // A failure to record the failure leaves the job active: it expires and runs again.
        const failed = await this.boss
          .fail(this.definition.name, { id: job.id, retryCount: job.retryCount }, { message })
          .then(
            () => true,
            () => false,
          );
        if (failed && this.definition.onRetry && job.retryCount < job.retryLimit) {
          const nextTryAt = await nextTryOf(this.boss, this.definition.name, job.id).catch(() => undefined);
          await this.definition
            .onRetry(job.data, error, nextTryAt)
            .catch((hookError) =>
              this.log?.warn({ queue: this.definition.name, err: hookError }, 'could not record the retry'),
            );
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

/** Jobs counted at most by one read of pg-boss's findJobs (its own upper bound). */
const BACKLOG_COUNTED = 100_000;

/**
 * The store as pg-boss's `db` option (its IDatabase: executeSql). pg-boss sends SQL with values one statement at
 * a time, and parameter-less text that may hold several statements (its schema installs and migrations, its
 * locked maintenance blocks); PGlite runs several statements only through exec, whose rows are flattened as
 * pg-boss's own PGlite adapter (fromPglite) does, so a RETURNING before a trailing COMMIT is not lost. On
 * PostgreSQL everything goes through the store's pool, so its statements are prepared as ours are.
 */
function bossDb(db: Db): BossDb {
  return {
    executeSql: async (text: string, values?: unknown[]) => {
      // pg-boss sends some passes as one text of several statements (BEGIN; SET LOCAL ...; the work; COMMIT): its
      // monitor's queue statistics and job expiry among them. Both stores answer such a text with one result per
      // statement, and pg-boss reads the rows of them all; given no rows, its monitor stops before it expires the
      // jobs of a worker that died.
      if (!values || values.length === 0) {
        if (db.kind === 'pglite') {
          const results = await db.pglite!.exec(text);
          return { rows: results.flatMap((r) => r.rows ?? []) };
        }
        const answer: pg.QueryResult | pg.QueryResult[] = await db.pool!.query(text);
        return { rows: (Array.isArray(answer) ? answer : [answer]).flatMap((r) => r.rows ?? []) };
      }
      return db.query(text, values);
    },
  };
}

/**
 * When a failed job's next try is due: pg-boss chooses it (retry delay, backoff with jitter) as it fails the job, and
 * tells it through its public getJobById. The one place that reads a job's retry state.
 */
async function nextTryOf(boss: PgBoss, name: string, id: string): Promise<Date | undefined> {
  const job = await boss.getJobById<JobData>(name, id);
  if (job?.state !== 'retry') return undefined;
  return new Date(job.startAfter);
}

/** An open transaction of the store as pg-boss's `db` option: pg-boss's statements then commit with the caller's. */
function bossDbIn(q: Queryable): BossDb {
  return { executeSql: (text: string, values?: unknown[]) => q.query(text, values ?? []) };
}
