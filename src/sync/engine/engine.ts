// The engine: the store, the job queue with one queue per flow, the clients of each connection (with tokens
// from the store and limits shared through Postgres), and the pollers. `ledgerlink start` runs it with the
// server; `ledgerlink worker` runs only its workers.
import type pino from 'pino';
import { createLogger } from '../../log.ts';
import { Metrics, type SyncOutcome } from '../../metrics.ts';
import type { Db } from '../../store/db.ts';
import {
  ConnectionRepository,
  PROVIDER_NAME,
  sidesToReconnect,
  type Connection,
  type OAuthTokens,
} from '../../store/connections.ts';
import type { SecretBox } from '../../store/secrets.ts';
import { markResolved, recordActivity } from '../../store/activity.ts';
import { DEFAULT_RETENTION, pruneHistory, type PruneOutcome, type RetentionPolicy } from '../../store/retention.ts';
import { PostgresRateLimiter, type LimitPolicy, type RateLimiter } from '../../store/rateLimits.ts';
import { QuickBooksClient } from '../../quickbooks/client.ts';
import { QuickBooksOAuth } from '../../quickbooks/oauth.ts';
import { QuickBooksError } from '../../quickbooks/errors.ts';
import { HighLevelHttp, type HighLevelLimiter } from '../../highlevel/http.ts';
import { DailyLimitedLimiter } from '../../highlevel/limiter.ts';
import { HighLevelOAuth } from '../../highlevel/oauth.ts';
import { HighLevelError } from '../../highlevel/errors.ts';
import { HighLevelClient } from '../../highlevel/client.ts';
import type { ProviderConfig } from '../../config.ts';
import { JobQueue, type JobContext, type JobData } from './queue.ts';
import { JOB_FIELDS, payloadProblem, type JobDeclaration } from './flow.ts';
import { DECLARED_FLOWS } from './periodic.ts';
import { StoredTokenSource, ConnectionRevokedError } from './tokens.ts';
import { loadCompanyFacts, type CompanyFacts } from '../services/company.ts';
import type { FlowContext } from './context.ts';
import { RetryLater, SyncError, describeError } from './errors.ts';
import { DAILY_BUDGET_RETRY_SECONDS } from '../services/dailyReserve.ts';
import { contactImportFlow, importCustomersKey, CUSTOMER_IMPORT_CURSOR } from '../flows/contactImport.ts';
import {
  importInvoicesKey,
  invoiceImportFlow,
  INVOICE_IMPORT_CURSOR,
  type InvoiceImportProgress,
} from '../flows/invoiceImport.ts';
import { historyLimit } from '../flows/history.ts';
import { readCursor } from '../../store/cursors.ts';
import { releaseHeldEvents } from './intake.ts';
import { enqueue, WEBHOOKS_ACTIVITY } from './flow.ts';
import { SideHealthTracker } from './providerFailures.ts';
import { AttentionWatch } from './attention.ts';
import type { NoticeChannel } from '../../notify/channels.ts';

export interface EngineOptions {
  db: Db;
  secrets: SecretBox;
  providers: ProviderConfig;
  /** Where the OAuth callbacks land (LEDGERLINK_PUBLIC_URL). */
  publicUrl: string;
  logger?: pino.Logger;
  /** Counters and gauges for /metrics (a fresh registry by default). */
  metrics?: Metrics;
  /** Pace requests to the providers' limits (true in production; benchmarks may lift them). */
  limits?: boolean;
  /** Multiplies the providers' per-window limits (benchmarks run emulators with limits scaled the same way). */
  limitFactor?: number;
  concurrency?: number;
  /** Payment jobs at once in this process (LEDGERLINK_PAYMENT_CONCURRENCY); default PAYMENT_JOBS_PER_UNIT × concurrency. */
  paymentConcurrency?: number;
  pollSeconds?: number;
  /** How often QuickBooks change data capture runs behind the webhooks (LEDGERLINK_CDC_POLL_SECONDS, default 180). */
  cdcPollSeconds?: number;
  /** How long activity and inbox history is kept (LEDGERLINK_ACTIVITY_RETENTION_DAYS, LEDGERLINK_INBOX_RETENTION_DAYS). */
  retention?: RetentionPolicy;
  /** When a connection needs attention, and where notices about it go (docs/configuration.md, LEDGERLINK_ALERT_*). */
  alerts?: {
    /** A side failing for longer than this needs attention: the card says so and notices go out (default 600). */
    afterSeconds?: number;
    /** Where notices go; none: the card still says so, nothing is sent. */
    channels?: NoticeChannel[];
    /** How often the process that runs the pollers looks for problems (default 15). */
    checkEverySeconds?: number;
  };
  /** Job queue tuning (tests shorten these to see a killed worker's job come back quickly). */
  queue?: { expireInSeconds?: number; leaseSeconds?: number; pollingIntervalSeconds?: number; supervise?: boolean };
}

interface ConnectionClients {
  qbo: QuickBooksClient;
  hl: HighLevelClient;
  company: () => Promise<CompanyFacts>;
  itemIds: Map<string, string>;
}

const COMPANY_FACTS_TTL_MS = 10 * 60_000;

/** A provider failing this long (10 minutes: longer than its records' first retries) needs a person's attention. */
export const DEFAULT_ATTENTION_AFTER_SECONDS = 600;

/** How often history past its retention is deleted. */
const RETENTION_EVERY_MS = 60 * 60_000;

/** A job the engine runs: its declaration, and the activity `flow` it records under (its flow's, unless it says). */
interface DefinedJob {
  job: JobDeclaration;
  activityFlow: string;
}

/** QuickBooks: 500 requests a minute and 10 at once per realm; HighLevel: 100 per 10 seconds per location. */
export function providerLimit(key: string): LimitPolicy | undefined {
  if (key.startsWith('qbo:')) return { limit: 500, windowMs: 60_000, utilisation: 0.95, burst: 5, concurrency: 10 };
  // GCRA keeps any window of the provider's length to rate x window + burst: 95 + 4 = 99 of HighLevel's 100 per
  // 10 s, 475 + 5 = 480 of QuickBooks' 500 a minute, whatever the windows' alignment.
  if (key.startsWith('hl:')) return { limit: 100, windowMs: 10_000, utilisation: 0.95, burst: 4 };
  return historyLimit(key);
}

export class Engine {
  readonly connections: ConnectionRepository;
  readonly log: pino.Logger;
  readonly metrics: Metrics;
  readonly qboOAuth: QuickBooksOAuth;
  readonly hlOAuth: HighLevelOAuth;
  readonly providers: ProviderConfig;
  private readonly limiter: RateLimiter | undefined;
  private readonly hlLimiter: HighLevelLimiter | undefined;
  private readonly clients = new Map<string, ConnectionClients>();
  /** Which side of each connection is failing, as its jobs fail and end (src/sync/engine/providerFailures.ts). */
  readonly sideHealth: SideHealthTracker;
  readonly attentionAfterSeconds: number;
  /** Notices about connections that need attention; undefined when no channel is configured. */
  readonly attention: AttentionWatch | undefined;
  private attentionTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly db: Db,
    readonly queue: JobQueue,
    private readonly options: EngineOptions,
  ) {
    this.providers = options.providers;
    this.connections = new ConnectionRepository(db, options.secrets);
    this.log = options.logger ?? createLogger({ level: process.env.LEDGERLINK_LOG_LEVEL ?? 'info' });
    this.metrics = options.metrics ?? new Metrics();
    this.metrics.readQueuesWith(() => queue.stats());
    this.sideHealth = new SideHealthTracker(db, this.log);
    this.attentionAfterSeconds = options.alerts?.afterSeconds ?? DEFAULT_ATTENTION_AFTER_SECONDS;
    const channels = options.alerts?.channels ?? [];
    this.attention =
      channels.length > 0
        ? new AttentionWatch(
            db,
            this.connections,
            { afterSeconds: this.attentionAfterSeconds, channels, publicUrl: options.publicUrl },
            this.log,
          )
        : undefined;
    const qbo = options.providers.quickbooks;
    this.qboOAuth = new QuickBooksOAuth({
      clientId: qbo.clientId,
      clientSecret: qbo.clientSecret,
      redirectUri: `${options.publicUrl}/oauth/quickbooks/callback`,
      endpoints: {
        ...(qbo.authorizeUrl ? { authorizeUrl: qbo.authorizeUrl } : {}),
        ...(qbo.tokenUrl ? { tokenUrl: qbo.tokenUrl } : {}),
        ...(qbo.revokeUrl ? { revokeUrl: qbo.revokeUrl } : {}),
      },
    });
    const hl = options.providers.highlevel;
    this.hlOAuth = new HighLevelOAuth({
      clientId: hl.clientId,
      clientSecret: hl.clientSecret,
      redirectUri: `${options.publicUrl}/oauth/highlevel/callback`,
      apiUrl: hl.apiUrl,
      ...(hl.authorizeUrl ? { marketplaceUrl: hl.authorizeUrl } : {}),
    });
    const factor = options.limitFactor ?? 1;
    const scaled = (key: string): LimitPolicy | undefined => {
      const policy = providerLimit(key);
      return policy && factor !== 1 ? { ...policy, limit: policy.limit * factor } : policy;
    };
    const limiter = options.limits === false ? undefined : new PostgresRateLimiter(db, scaled);
    this.limiter = limiter;
    // HighLevel's burst window is paced through Postgres; its daily limit is heard from every answer's headers.
    this.hlLimiter = limiter
      ? new DailyLimitedLimiter({ acquire: (location) => limiter.acquire(`hl:${location}`) })
      : undefined;
  }

  static async create(options: EngineOptions): Promise<Engine> {
    const logger = options.logger ?? createLogger({ level: process.env.LEDGERLINK_LOG_LEVEL ?? 'info' });
    const queue = await JobQueue.start(options.db, { ...options.queue, log: logger });
    const engine = new Engine(options.db, queue, { ...options, logger });
    await engine.defineQueues();
    return engine;
  }

  /** Starts this process's workers (and, with pollers, the periodic polls of every connection). */
  async startWorkers(options: { pollers?: boolean } = {}): Promise<void> {
    await this.queue.work();
    if (options.pollers !== false) {
      const every = Math.min(this.options.pollSeconds ?? 60, this.options.cdcPollSeconds ?? 180) * 1000;
      this.pollTimer = setInterval(
        () => void this.enqueuePolls().catch((error) => this.log.warn({ err: error }, 'could not schedule polls')),
        every,
      );
      this.pollTimer.unref();
      void this.enqueuePolls().catch(() => {});
      // History is pruned by every process that polls: the deletes are idempotent, so several at once only repeat
      // each other's work. The first run waits a little, so that a start is not slowed by it.
      const prune = () =>
        void this.pruneHistory().catch((error) => this.log.warn({ err: error }, 'could not prune history'));
      this.retentionTimer = setInterval(prune, RETENTION_EVERY_MS);
      this.retentionTimer.unref();
      setTimeout(prune, 60_000).unref();
      const attention = this.attention;
      if (attention) {
        const check = () =>
          void attention
            .check()
            .catch((error) => this.log.warn({ err: error }, 'could not check which connections need attention'));
        this.attentionTimer = setInterval(check, (this.options.alerts?.checkEverySeconds ?? 15) * 1000);
        this.attentionTimer.unref();
      }
    }
  }

  /** Deletes activity and inbox history older than the retention, never what is still needed (src/store/retention.ts). */
  async pruneHistory(): Promise<PruneOutcome> {
    const outcome = await pruneHistory(this.db, this.options.retention ?? DEFAULT_RETENTION);
    if (outcome.activity + outcome.inbox + outcome.webhookRefusals > 0)
      this.log.info(outcome, 'pruned history past its retention');
    return outcome;
  }

  async stop(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.attentionTimer) clearInterval(this.attentionTimer);
    await this.queue.stop();
  }

  /**
   * The declared schedules' jobs (polls, change data capture, sweeps) for every live connection; a connection whose
   * poll is already waiting gets no second one. `catchUp` (a resume or a reconnect) names connections whose sweeps
   * and change data capture run now, whenever they last ran: their intervals are for a connection that was syncing
   * all along.
   */
  async enqueuePolls(options: { catchUp?: string } = {}): Promise<void> {
    const settings = { cdcPollSeconds: this.options.cdcPollSeconds ?? 180 };
    for (const connection of await this.connections.list()) {
      if (connection.status !== 'connected') continue;
      const catchUp = options.catchUp === connection.id;
      for (const flow of DECLARED_FLOWS) {
        for (const schedule of flow.schedules ?? []) {
          if (!catchUp && schedule.due && !(await schedule.due({ db: this.db, connection }, settings))) continue;
          const job = flow.jobs[schedule.job]!;
          await enqueue(this.queue, job, {
            connectionId: connection.id,
            key: schedule.key(connection.id),
            ...schedule.data?.({ catchUp }),
          });
        }
      }
      // An import stopped by a restart between two slices carries on.
      await this.startInitialImports(connection, { onlyUnfinished: true });
    }
  }

  /** Starts (or resumes) the imports a new connection needs: every QuickBooks customer, and old invoices when chosen. */
  async startInitialImports(connection: Connection, options: { onlyUnfinished?: boolean } = {}): Promise<void> {
    const customers = await readCursor<{ finishedAt?: string }>(this.db, connection.id, CUSTOMER_IMPORT_CURSOR);
    if (!customers?.finishedAt) {
      if (!options.onlyUnfinished || customers)
        await enqueue(this.queue, contactImportFlow.jobs.importCustomers, {
          connectionId: connection.id,
          key: importCustomersKey(connection.id),
        });
      return; // the invoice import follows the customer import (it needs the contacts)
    }
    if (!connection.importOldInvoices) return;
    const invoices = await readCursor<{ finishedAt?: string }>(this.db, connection.id, INVOICE_IMPORT_CURSOR);
    if (!invoices?.finishedAt && (!options.onlyUnfinished || invoices)) {
      await enqueue(this.queue, invoiceImportFlow.jobs.importInvoices, {
        connectionId: connection.id,
        key: importInvoicesKey(connection.id),
      });
    }
  }

  /**
   * The "Import old invoices" toggle changed on a connection that is already live (or paused): turning it on starts
   * the import (after the customer import, which it needs), unless it ran already, for it runs once; turning it off
   * stops an import under way after its current slice. Returns what happened, in words for the person who did it.
   */
  async oldInvoiceImportToggled(connection: Connection): Promise<string> {
    const invoices = await readCursor<InvoiceImportProgress>(this.db, connection.id, INVOICE_IMPORT_CURSOR);
    if (!connection.importOldInvoices) {
      return invoices && !invoices.finishedAt
        ? 'The import of old invoices stops after the invoices it is on; turning it on again carries on where it stopped'
        : 'Old invoices will not be imported';
    }
    if (invoices?.finishedAt) {
      return `Old invoices were imported on ${invoices.finishedAt.slice(0, 10)} (${invoices.imported} of ${invoices.done}); an import runs once, so nothing more is imported`;
    }
    if (connection.status !== 'connected' && connection.status !== 'paused')
      return 'Old invoices are imported once the connection is connected';
    await this.startInitialImports(connection);
    const customers = await readCursor<{ finishedAt?: string }>(this.db, connection.id, CUSTOMER_IMPORT_CURSOR);
    if (connection.status === 'paused')
      return 'Old invoices are imported from QuickBooks when the connection is resumed; the progress shows on this card';
    return customers?.finishedAt
      ? 'Importing old invoices from QuickBooks into the CRM: the progress shows on this card'
      : 'Old invoices are imported from QuickBooks as soon as the customer import finishes (they need its contacts); the progress shows on this card';
  }

  /**
   * After a resume or a reconnection: the jobs that stopped because the connection was paused or its authorization
   * revoked run again by themselves (their errors were only waiting for this), the events held while it was paused
   * get their jobs, and the polls and sweeps catch up on what arrived meanwhile at once.
   */
  async resumeStoppedJobs(connectionId: string): Promise<number> {
    const stopped = await this.db.query<{ id: string | number; retry: { queue: string; data: JobData } | string }>(
      `SELECT id, retry FROM activity WHERE connection_id = $1 AND status = 'error' AND resolved_at IS NULL
         AND retry IS NOT NULL AND detail->>'code' IN ('connection-revoked', 'connection-paused')`,
      [connectionId],
    );
    for (const row of stopped.rows) {
      const retry =
        typeof row.retry === 'string' ? (JSON.parse(row.retry) as { queue: string; data: JobData }) : row.retry;
      await this.queue.enqueue(retry.queue, retry.data);
    }
    await markResolved(
      this.db,
      connectionId,
      stopped.rows.map((r) => Number(r.id)),
    );
    const held = await releaseHeldEvents(this.db, this.queue, connectionId);
    if (held > 0) {
      await recordActivity(this.db, {
        connectionId,
        flow: WEBHOOKS_ACTIVITY,
        status: 'info',
        message: `${held} event${held === 1 ? '' : 's'} received while the connection was paused ${held === 1 ? 'is' : 'are'} synced now`,
        detail: { released: held },
      });
    }
    await this.enqueuePolls({ catchUp: connectionId });
    return stopped.rows.length;
  }

  handles(queue: string): boolean {
    return this.defined.has(queue);
  }

  /** The jobs this engine runs, by queue name (every declared flow's, see DECLARED_FLOWS). */
  private readonly defined = new Map<string, DefinedJob>();

  private async defineQueues(): Promise<void> {
    const settings = {
      concurrency: this.options.concurrency ?? 4,
      paymentConcurrency: this.options.paymentConcurrency,
    };
    for (const flow of DECLARED_FLOWS) {
      for (const job of Object.values(flow.jobs)) {
        const defined = { job, activityFlow: job.activityFlow ?? flow.name };
        this.defined.set(job.queue, defined);
        await this.defineQueue(defined, job.concurrency?.(settings) ?? settings.concurrency);
      }
    }
  }

  private async defineQueue(defined: DefinedJob, concurrency: number): Promise<void> {
    const { job, activityFlow: flow } = defined;
    const name = job.queue;
    await this.queue.define({
      name,
      concurrency,
      payload: job.payload,
      ...(job.recordLease ? { recordLease: job.recordLease } : {}),
      handler: (data, context) => this.runJob(defined, data, context),
      onRetry: (data, error, nextTryAt) =>
        this.sideHealth.retrying(name, flow, data, error, nextTryAt, job.periodic === true),
      onGiveUp: async (data, error) => {
        await this.sideHealth
          .gaveUp(flow, data, error)
          .catch((e) => this.log.warn({ err: e }, 'could not record the side failure'));
        await recordActivity(this.db, {
          connectionId: data.connectionId,
          flow,
          status: 'error',
          ...crmRef(job, data),
          message: `Gave up after several tries: ${describeError(error)}`,
          detail: providerDetail(error),
          // The same record giving up again for the same provider answer is the same open error, counted.
          cause: `gave-up:${String(providerDetail(error).code ?? providerDetail(error).status ?? describeError(error))}`,
          retry: { queue: name, data },
        });
      },
    });
  }

  /** Runs one job and reports how it ended: one log line and the sync outcome metrics. */
  private async runJob(defined: DefinedJob, data: JobData, job: JobContext): Promise<void> {
    const name = defined.job.queue;
    const flow = defined.activityFlow;
    const started = performance.now();
    let ended: { outcome: SyncOutcome; error?: unknown; detail?: Record<string, unknown> } | undefined;
    try {
      ended = await this.runJobOnce(defined, data, job);
      // A job put off until later (its record busy, a daily budget used up) still waits; any other end is an end.
      if (ended.outcome !== 'deferred')
        await this.sideHealth
          .ended(flow, data, job)
          .catch((e) => this.log.warn({ err: e }, 'could not record the side health'));
    } catch (error) {
      ended = { outcome: job.lastAttempt ? 'failed' : 'retry', error };
      throw error;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      if (ended) {
        this.metrics.syncOutcome(flow, ended.outcome, name, seconds);
        this.logJobOutcome(defined, data, job, seconds, ended);
      }
    }
  }

  private logJobOutcome(
    defined: DefinedJob,
    data: JobData,
    job: JobContext,
    seconds: number,
    ended: { outcome: SyncOutcome; error?: unknown; detail?: Record<string, unknown> },
  ): void {
    const fields = {
      jobId: job.jobId,
      queue: defined.job.queue,
      flow: defined.activityFlow,
      connectionId: data.connectionId,
      recordKey: data.key,
      ...recordIds(defined.job, data),
      attempt: job.attempt,
      durationMs: Math.round(seconds * 1000),
      outcome: ended.outcome,
      ...ended.detail,
      ...(ended.error !== undefined ? { err: ended.error } : {}),
    };
    switch (ended.outcome) {
      case 'failed':
        this.log.error(fields, 'job failed on its last try; parked as an error to retry by hand');
        return;
      case 'retry':
        this.log.warn(fields, 'job failed; it will be retried');
        return;
      case 'error':
        this.log.warn(fields, 'job ended with a sync error shown in the dashboard');
        return;
      case 'skipped':
        this.log.debug(fields, 'job skipped');
        return;
      default:
        // Polls and sweeps run every minute for every connection: their routine ends are debug lines.
        if (ended.outcome === 'ok' && defined.job.periodic) this.log.debug(fields, 'job done');
        else this.log.info(fields, ended.outcome === 'ok' ? 'job done' : `job ${ended.outcome}`);
    }
  }

  private async runJobOnce(
    defined: DefinedJob,
    data: JobData,
    job: JobContext,
  ): Promise<{ outcome: SyncOutcome; error?: unknown; detail?: Record<string, unknown> }> {
    const name = defined.job.queue;
    const flow = defined.activityFlow;
    const periodic = defined.job.periodic === true;
    // The payload is checked before anything runs: one that does not fit (a job written by an older version, or
    // by hand) is one error on the dashboard, not a handler failing on every retry.
    const parsed = defined.job.payload.safeParse(data);
    if (!parsed.success) {
      const problem = payloadProblem(parsed.error);
      const connectionId = JOB_FIELDS.connectionId.safeParse(data.connectionId);
      if (connectionId.success)
        await recordActivity(this.db, {
          connectionId: connectionId.data,
          flow,
          status: 'error',
          message: `A ${name} job could not run: its data does not fit the job (${problem})`,
          detail: { code: 'bad-payload', queue: name, problem },
          cause: 'bad-payload',
        });
      return { outcome: 'error', detail: { code: 'bad-payload', problem } };
    }
    const payload = parsed.data;
    const connection = await this.connections.recent(data.connectionId);
    // A removed connection, or one never connected, syncs nothing.
    if (!connection || connection.status === 'pending')
      return { outcome: 'skipped', detail: { connectionStatus: connection?.status ?? 'removed' } };
    // A revoked, disconnected or paused one keeps its jobs: each is recorded as stopped, with what it needs to run
    // again, and reconnecting (or resuming) runs them all (resumeStoppedJobs): dropped, the webhooks accepted just
    // before would be lost whenever no poll or sweep finds their records again.
    if (connection.status !== 'connected') {
      // Polls and sweeps are scheduled again by the resume or reconnect itself (enqueuePolls): an open "Stopped"
      // error for each of them would only be noise beside the records' own.
      if (periodic) return { outcome: 'skipped', detail: { connectionStatus: connection.status } };
      const paused = connection.status === 'paused';
      const sides = sidesToReconnect(connection);
      const names = sides.map((side) => PROVIDER_NAME[side]).join(' and ');
      await this.recordStopped(
        defined,
        data,
        paused
          ? {
              message: 'Stopped: the connection is paused; this runs again once it is resumed',
              code: 'connection-paused',
            }
          : {
              message: `Stopped: the connection needs a ${names ? `${names} ` : ''}reconnect; this runs again by itself once ${sides.length > 1 ? 'both are' : `${names || 'it'} is`} reconnected`,
              code: 'connection-revoked',
              ...(sides.length === 1 ? { side: sides[0]! } : {}),
            },
      );
      return { outcome: 'stopped', detail: { connectionStatus: connection.status } };
    }
    try {
      await defined.job.run(this.contextFor(connection), payload, job);
      return { outcome: 'ok' };
    } catch (error) {
      if (error instanceof RetryLater) {
        await this.queue.enqueue(name, data, { startAfterSeconds: error.afterSeconds });
        return { outcome: 'deferred', detail: { retryInSeconds: error.afterSeconds } };
      }
      if (error instanceof HighLevelError && error.code === 'daily_limit') {
        // HighLevel's daily budget is used up: the job waits for it instead of spending its retries in seconds.
        await this.queue.enqueue(name, data, { startAfterSeconds: DAILY_BUDGET_RETRY_SECONDS });
        return {
          outcome: 'deferred',
          detail: { reason: 'highlevel daily budget used up', retryInSeconds: DAILY_BUDGET_RETRY_SECONDS },
        };
      }
      if (error instanceof SyncError) {
        await recordActivity(this.db, {
          connectionId: connection.id,
          flow,
          status: 'error',
          ...crmRef(defined.job, payload),
          message: error.message,
          detail: { code: error.code, fix: error.fix, ...error.detail },
          retry: { queue: name, data },
        });
        return { outcome: 'error', detail: { code: error.code, message: error.message } };
      }
      if (error instanceof ConnectionRevokedError) {
        // The token source has marked the side on the connection, so the job waits instead of running again at once.
        // A poll or sweep is scheduled again by the reconnect itself: the card names the side, not an entry per poll.
        if (periodic) return { outcome: 'stopped', detail: { reason: error.message } };
        await this.recordStopped(defined, data, {
          message: `Stopped: ${error.message}`,
          code: 'connection-revoked',
          side: error.side,
        });
        return { outcome: 'stopped', detail: { reason: error.message } };
      }
      throw error;
    }
  }

  /**
   * Records a job stopped by a paused or revoked connection, with what it needs to run again (resumeStoppedJobs).
   * The job read the connection's status a moment ago: if the user resumed or reconnected since, the resume may
   * already have swept the stopped jobs before this entry existed, and the job would wait for a Retry by hand. So
   * the status is read again (fresh) after the entry is written: either the resume's sweep sees the entry, or this
   * read sees the connection live again and the job goes back on the queue itself.
   */
  private async recordStopped(
    defined: DefinedJob,
    data: JobData,
    stop: { message: string; code: 'connection-paused' | 'connection-revoked'; side?: string },
  ): Promise<void> {
    const name = defined.job.queue;
    const entryId = await recordActivity(this.db, {
      connectionId: data.connectionId,
      flow: defined.activityFlow,
      status: 'error',
      ...crmRef(defined.job, data),
      message: stop.message,
      detail: { code: stop.code, ...(stop.side ? { side: stop.side } : {}) },
      retry: { queue: name, data },
    });
    const now = await this.connections.get(data.connectionId);
    if (now?.status !== 'connected') return;
    if ((await markResolved(this.db, data.connectionId, [entryId])) === 0) return; // the resume took it meanwhile
    await this.queue.enqueue(name, data);
  }

  /** The flow context of a connection: its clients (cached), the store and the queue. */
  contextFor(connection: Connection): FlowContext {
    const clients = this.clientsFor(connection);
    return {
      db: this.db,
      connection,
      qbo: clients.qbo,
      hl: clients.hl,
      queue: this.queue,
      log: this.log.child({ connectionId: connection.id }),
      company: clients.company,
      itemIds: clients.itemIds,
      ...(this.limiter ? { limiter: this.limiter } : {}),
    };
  }

  clientsFor(connection: Connection): ConnectionClients {
    const cached = this.clients.get(connection.id);
    if (cached) return cached;
    if (!connection.qboRealmId || !connection.hlLocationId)
      throw new Error(`connection ${connection.id} is not connected to both sides yet`);
    const qboTokens = new StoredTokenSource({
      connections: this.connections,
      connectionId: connection.id,
      side: 'qbo',
      refresh: async (refreshToken) => toStored(await this.qboOAuth.refresh(refreshToken)),
      isRefusal: (error) => error instanceof QuickBooksError && error.code === 'invalid_grant',
    });
    const limiter = this.limiter;
    const qbo = new QuickBooksClient({
      baseUrl: this.options.providers.quickbooks.apiUrl,
      realmId: connection.qboRealmId,
      tokens: qboTokens,
      limiter: limiter ? { acquire: (realm) => limiter.acquire(`qbo:${realm}`) } : undefined,
      logger: this.log,
      onCall: (call) => {
        this.metrics.providerCall('quickbooks', call);
        if (call.retrying) this.sideHealth.callFailed(connection.id, 'quickbooks', call.status);
      },
    });
    const hl = this.newHighLevelClient(connection.id, connection.hlLocationId);
    let facts: { value: Promise<CompanyFacts>; at: number } | undefined;
    const company = () => {
      if (!facts || Date.now() - facts.at > COMPANY_FACTS_TTL_MS) {
        const value = loadCompanyFacts(qbo);
        facts = { value, at: Date.now() };
        value.catch(() => {
          facts = undefined;
        });
      }
      return facts.value;
    };
    const clients = { qbo, hl, company, itemIds: new Map<string, string>() };
    this.clients.set(connection.id, clients);
    return clients;
  }

  /**
   * The HighLevel client of a connection, also while its QuickBooks side is not connected yet (the connect form
   * lists the location's workflows for review requests).
   */
  highLevelFor(connection: Connection): HighLevelClient {
    if (connection.qboRealmId && connection.hlLocationId) return this.clientsFor(connection).hl;
    if (!connection.hlLocationId) throw new Error(`connection ${connection.id} has no HighLevel location yet`);
    return this.newHighLevelClient(connection.id, connection.hlLocationId);
  }

  private newHighLevelClient(connectionId: string, locationId: string): HighLevelClient {
    const tokens = new StoredTokenSource({
      connections: this.connections,
      connectionId,
      side: 'hl',
      refresh: async (refreshToken) => {
        const t = await this.hlOAuth.refresh(refreshToken);
        // Not awaited: this runs inside the refresh's transaction, and the embedded store runs one statement at a time.
        if (t.userId)
          void this.rememberHighLevelUser(connectionId, t.userId).catch((error) =>
            this.log.warn({ err: error, connectionId }, 'could not keep the HighLevel user of a token refresh'),
          );
        return {
          accessToken: t.accessToken,
          ...(t.refreshToken ? { refreshToken: t.refreshToken } : {}),
          accessExpiresAt: t.expiresAt.toISOString(),
          scope: t.scopes.join(' '),
        };
      },
      isRefusal: (error) => error instanceof HighLevelError && (error.code === 'invalid_grant' || error.status === 401),
    });
    return new HighLevelClient(
      new HighLevelHttp({
        baseUrl: this.options.providers.highlevel.apiUrl,
        locationId,
        tokens,
        limiter: this.hlLimiter,
        logger: this.log,
        onCall: (call) => {
          this.metrics.providerCall('highlevel', call);
          if (call.retrying) this.sideHealth.callFailed(connectionId, 'highlevel', call.status);
        },
      }),
    );
  }

  /** Keeps the HighLevel user a token answer named (a connection that does not know its user yet learns it here). */
  private async rememberHighLevelUser(connectionId: string, userId: string): Promise<void> {
    const connection = await this.connections.get(connectionId);
    if (connection && connection.settings.highLevelUserId !== userId)
      await this.connections.updateSettings(connectionId, { highLevelUserId: userId });
  }

  /** Forgets cached clients (after tokens or settings changed). */
  forget(connectionId: string): void {
    this.clients.delete(connectionId);
    this.connections.forgetRecent();
  }
}

export function toStored(t: {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
  refreshTokenExpiresAt?: Date | undefined;
}): OAuthTokens {
  return {
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    accessExpiresAt: t.accessTokenExpiresAt.toISOString(),
    ...(t.refreshTokenExpiresAt ? { refreshExpiresAt: t.refreshTokenExpiresAt.toISOString() } : {}),
  };
}

/** The CRM record a job's activity entries name, as its declaration reads the payload (none when it does not fit). */
function crmRef(job: JobDeclaration, data: JobData): { crmKind?: string; crmId?: string } {
  if (!job.crmRef) return {};
  const parsed = job.payload.safeParse(data);
  return (parsed.success ? job.crmRef(parsed.data) : undefined) ?? {};
}

/** The ids a job's log line names: its CRM record, or the QuickBooks record of a QuickBooks-side job. */
function recordIds(job: JobDeclaration, data: JobData): Record<string, string> {
  const ids: Record<string, string> = {};
  const parsed = job.logIds ? job.payload.safeParse(data) : undefined;
  if (!parsed?.success || !job.logIds) return ids;
  for (const [field, value] of Object.entries(job.logIds(parsed.data))) if (value !== undefined) ids[field] = value;
  return ids;
}

function providerDetail(error: unknown): Record<string, unknown> {
  if (error instanceof QuickBooksError)
    return {
      provider: 'quickbooks',
      code: error.code,
      status: error.status,
      detail: error.detail ?? null,
      intuitTid: error.intuitTid ?? null,
    };
  if (error instanceof HighLevelError) return { provider: 'highlevel', status: error.status, code: error.code ?? null };
  return {};
}
