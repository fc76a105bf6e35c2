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
import { QUEUES, type QueueName } from './routes.ts';
import { StoredTokenSource, ConnectionRevokedError } from './tokens.ts';
import { loadCompanyFacts, type CompanyFacts } from '../services/company.ts';
import type { FlowContext } from './context.ts';
import { RetryLater, SyncError, describeError } from './errors.ts';
import { DAILY_BUDGET_RETRY_SECONDS } from '../services/dailyReserve.ts';
import { syncTransaction, SALES_RECEIPTS_FLOW } from '../flows/salesReceipts.ts';
import { listedTransaction, pollPayments, syncOrder } from '../flows/paymentPolling.ts';
import { importCustomers, importCustomersKey, CUSTOMER_IMPORT_CURSOR } from '../flows/contactImport.ts';
import { syncQboCustomer, CONTACTS_FLOW } from '../flows/qboCustomers.ts';
import { syncContactChange, sweepContacts } from '../flows/customers.ts';
import { changeCaptureDue, changeCaptureKey, pollQuickBooksChanges } from '../services/changeCapture.ts';
import { syncQboInvoiceEvent, REVIEW_REQUESTS_FLOW } from '../flows/reviewRequests.ts';
import {
  importInvoices,
  importInvoicesKey,
  isImportedCrmInvoiceId,
  INVOICE_IMPORT_CURSOR,
  INVOICE_IMPORT_FLOW,
  type InvoiceImportProgress,
} from '../flows/invoiceImport.ts';
import { readCursor } from '../../store/cursors.ts';
import { releaseHeldEvents } from './intake.ts';
import { syncInvoice, sweepInvoices, INVOICES_FLOW } from '../flows/invoices.ts';
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

/**
 * The payment queue runs this many jobs at once per unit of worker concurrency (see defineQueues). 4 a unit (16 by
 * default) reached 0.89-0.91 of the ceiling on a backlog with new customers, 8 (32) 0.92-0.94: while QuickBooks
 * binds (customer and item creates crowd the start of a backlog), more jobs can get on with HighLevel's reads.
 * Waiting jobs cost little: the limiter keeps one waiter per key asking the store (src/store/rateLimits.ts).
 */
const PAYMENT_JOBS_PER_UNIT = 8;

/** Payment polls at once in a process (see defineQueues). */
const POLL_JOBS = 8;

/** QuickBooks: 500 requests a minute and 10 at once per realm; HighLevel: 100 per 10 seconds per location. */
export function providerLimit(key: string): LimitPolicy | undefined {
  if (key.startsWith('qbo:')) return { limit: 500, windowMs: 60_000, utilisation: 0.95, burst: 5, concurrency: 10 };
  // GCRA keeps any window of the provider's length to rate x window + burst: 95 + 4 = 99 of HighLevel's 100 per
  // 10 s, 475 + 5 = 480 of QuickBooks' 500 a minute, whatever the windows' alignment.
  if (key.startsWith('hl:')) return { limit: 100, windowMs: 10_000, utilisation: 0.95, burst: 4 };
  return undefined;
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
   * One poll job per live connection; a connection whose poll is already waiting gets no second one. `catchUp` (a
   * resume or a reconnect) names connections whose sweeps and change data capture run now, whenever they last ran:
   * their intervals are for a connection that was syncing all along.
   */
  async enqueuePolls(options: { catchUp?: string } = {}): Promise<void> {
    for (const connection of await this.connections.list()) {
      if (connection.status !== 'connected') continue;
      const catchUp = options.catchUp === connection.id;
      await this.queue.enqueue(QUEUES.pollPayments, {
        connectionId: connection.id,
        key: `${connection.id}:poll:payments`,
      });
      if (catchUp || (await changeCaptureDue({ db: this.db, connection }, this.options.cdcPollSeconds ?? 180))) {
        await this.queue.enqueue(QUEUES.pollQboChanges, {
          connectionId: connection.id,
          key: changeCaptureKey(connection.id),
        });
      }
      // An import stopped by a restart between two slices carries on.
      await this.startInitialImports(connection, { onlyUnfinished: true });
      await this.queue.enqueue(QUEUES.sweepInvoices, {
        connectionId: connection.id,
        key: `${connection.id}:sweep:invoices`,
        ...(catchUp ? { catchUp: true } : {}),
      });
    }
  }

  /** Starts (or resumes) the imports a new connection needs: every QuickBooks customer, and old invoices when chosen. */
  async startInitialImports(connection: Connection, options: { onlyUnfinished?: boolean } = {}): Promise<void> {
    const customers = await readCursor<{ finishedAt?: string }>(this.db, connection.id, CUSTOMER_IMPORT_CURSOR);
    if (!customers?.finishedAt) {
      if (!options.onlyUnfinished || customers)
        await this.queue.enqueue(QUEUES.importCustomers, {
          connectionId: connection.id,
          key: importCustomersKey(connection.id),
        });
      return; // the invoice import follows the customer import (it needs the contacts)
    }
    if (!connection.importOldInvoices) return;
    const invoices = await readCursor<{ finishedAt?: string }>(this.db, connection.id, INVOICE_IMPORT_CURSOR);
    if (!invoices?.finishedAt && (!options.onlyUnfinished || invoices)) {
      await this.queue.enqueue(QUEUES.importInvoices, {
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
        flow: 'webhooks',
        status: 'info',
        message: `${held} event${held === 1 ? '' : 's'} received while the connection was paused ${held === 1 ? 'is' : 'are'} synced now`,
        detail: { released: held },
      });
    }
    await this.enqueuePolls({ catchUp: connectionId });
    return stopped.rows.length;
  }

  handles(queue: string): boolean {
    return (Object.values(QUEUES) as string[]).includes(queue) && this.defined.has(queue as QueueName);
  }

  private readonly defined = new Set<QueueName>();

  private async defineQueues(): Promise<void> {
    const concurrency = this.options.concurrency ?? 4;
    const define = async (
      name: QueueName,
      flow: string,
      run: (ctx: FlowContext, data: JobData, job: JobContext) => Promise<void>,
      extra: { concurrency?: number; recordLease?: 'store' | 'process' } = {},
    ) => {
      this.defined.add(name);
      await this.queue.define({
        name,
        concurrency: extra.concurrency ?? concurrency,
        ...(extra.recordLease ? { recordLease: extra.recordLease } : {}),
        handler: (data, job) => this.runJob(name, flow, data, job, run),
        onRetry: (data, error, nextTryAt) =>
          this.sideHealth.retrying(name, flow, data, error, nextTryAt, PERIODIC.has(name)),
        onGiveUp: async (data, error) => {
          await this.sideHealth
            .gaveUp(flow, data, error)
            .catch((e) => this.log.warn({ err: e }, 'could not record the side failure'));
          await recordActivity(this.db, {
            connectionId: data.connectionId,
            flow,
            status: 'error',
            ...crmRef(data),
            message: `Gave up after several tries: ${describeError(error)}`,
            detail: providerDetail(error),
            // The same record giving up again for the same provider answer is the same open error, counted.
            cause: `gave-up:${String(providerDetail(error).code ?? providerDetail(error).status ?? describeError(error))}`,
            retry: { queue: name, data },
          });
        },
      });
    };
    // Payments are where backlogs are (a poll enqueues every charge it finds). A payment's job spends nearly all
    // its time waiting for the providers (1-2 s at their usual 150-300 ms a call), so keeping HighLevel's 9.5
    // calls a second busy takes 6-8 of them in flight, and more while new customers make QuickBooks the binding
    // limit for a while: the limiter, not the job count, keeps both providers within their limits.
    await define(
      QUEUES.crmTransaction,
      SALES_RECEIPTS_FLOW,
      (ctx, data, job) => {
        const listed = listedTransaction(data, job.attempt);
        return syncTransaction(ctx, String(data.transactionId), {
          ...(typeof data.orderId === 'string' ? { orderId: data.orderId } : {}),
          ...(typeof data.contactId === 'string' ? { contactId: data.contactId } : {}),
          ...(listed ? { listed } : {}),
        });
      },
      { concurrency: this.options.paymentConcurrency ?? concurrency * PAYMENT_JOBS_PER_UNIT },
    );
    // An order job only lists the order's transactions and syncs each under the transaction's own lease (queue.ts).
    await define(
      QUEUES.crmOrder,
      SALES_RECEIPTS_FLOW,
      async (ctx, data) => {
        await syncOrder(ctx, String(data.orderId));
      },
      { recordLease: 'process' },
    );
    // Every connection is polled once a minute. A poll is one or two HighLevel calls (100-300 ms each), so at 8 at
    // once a process keeps up with well over a thousand connections, and after a restart with many connections
    // behind, all are polled within seconds: at 2 at once the last of 200 were still unpolled while the first had
    // a tenth of their payments done (scenario 6's fairness, docs/performance.md).
    await define(
      QUEUES.pollPayments,
      'polling',
      async (ctx) => {
        await pollPayments(ctx);
      },
      { concurrency: POLL_JOBS },
    );
    await define(QUEUES.qboCustomer, CONTACTS_FLOW, async (ctx, data) => {
      await syncQboCustomer(ctx, String(data.customerId));
    });
    await define(QUEUES.crmContact, 'customers', (ctx, data) =>
      syncContactChange(
        ctx,
        String(data.contactId),
        typeof data.event === 'string' ? data.event : undefined,
        typeof data.inboxId === 'number' ? data.inboxId : undefined,
      ),
    );
    await define(QUEUES.qboInvoice, REVIEW_REQUESTS_FLOW, (ctx, data) =>
      syncQboInvoiceEvent(ctx, {
        ...(typeof data.invoiceId === 'string' ? { invoiceId: data.invoiceId } : {}),
        ...(typeof data.paymentId === 'string' ? { paymentId: data.paymentId } : {}),
      }),
    );
    await define(
      QUEUES.importCustomers,
      CONTACTS_FLOW,
      async (ctx) => {
        await importCustomers(ctx);
      },
      { concurrency: 1 },
    );
    await define(
      QUEUES.importInvoices,
      INVOICE_IMPORT_FLOW,
      async (ctx) => {
        await importInvoices(ctx);
      },
      { concurrency: 1 },
    );
    await define(
      QUEUES.pollQboChanges,
      'polling',
      async (ctx) => {
        await pollQuickBooksChanges(ctx);
      },
      { concurrency: 2 },
    );
    await define(QUEUES.crmInvoice, INVOICES_FLOW, async (ctx, data) => {
      // Invoices imported from QuickBooks are history: neither their creation nor their edits go back (invoiceImport.ts).
      if (await isImportedCrmInvoiceId(ctx, String(data.invoiceId))) return;
      await syncInvoice(ctx, String(data.invoiceId));
    });
    await define(
      QUEUES.sweepInvoices,
      'polling',
      async (ctx, data) => {
        // A catch-up sweep (after a resume) runs whenever the last one did.
        const every = data.catchUp === true ? { minIntervalMs: 0 } : {};
        await sweepInvoices(ctx, every);
        await sweepContacts(ctx, every);
      },
      { concurrency: 2 },
    );
  }

  /** Runs one job and reports how it ended: one log line and the sync outcome metrics. */
  private async runJob(
    name: QueueName,
    flow: string,
    data: JobData,
    job: JobContext,
    run: (ctx: FlowContext, data: JobData, job: JobContext) => Promise<void>,
  ): Promise<void> {
    const started = performance.now();
    let ended: { outcome: SyncOutcome; error?: unknown; detail?: Record<string, unknown> } | undefined;
    try {
      ended = await this.runJobOnce(name, flow, data, job, run);
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
        this.logJobOutcome(name, flow, data, job, seconds, ended);
      }
    }
  }

  private logJobOutcome(
    name: QueueName,
    flow: string,
    data: JobData,
    job: JobContext,
    seconds: number,
    ended: { outcome: SyncOutcome; error?: unknown; detail?: Record<string, unknown> },
  ): void {
    const fields = {
      jobId: job.jobId,
      queue: name,
      flow,
      connectionId: data.connectionId,
      recordKey: data.key,
      ...recordIds(data),
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
        if (ended.outcome === 'ok' && PERIODIC.has(name)) this.log.debug(fields, 'job done');
        else this.log.info(fields, ended.outcome === 'ok' ? 'job done' : `job ${ended.outcome}`);
    }
  }

  private async runJobOnce(
    name: QueueName,
    flow: string,
    data: JobData,
    job: JobContext,
    run: (ctx: FlowContext, data: JobData, job: JobContext) => Promise<void>,
  ): Promise<{ outcome: SyncOutcome; error?: unknown; detail?: Record<string, unknown> }> {
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
      if (PERIODIC.has(name)) return { outcome: 'skipped', detail: { connectionStatus: connection.status } };
      const paused = connection.status === 'paused';
      const sides = sidesToReconnect(connection);
      const names = sides.map((side) => PROVIDER_NAME[side]).join(' and ');
      await this.recordStopped(
        name,
        flow,
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
      await run(this.contextFor(connection), data, job);
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
          ...crmRef(data),
          message: error.message,
          detail: { code: error.code, fix: error.fix, ...error.detail },
          retry: { queue: name, data },
        });
        return { outcome: 'error', detail: { code: error.code, message: error.message } };
      }
      if (error instanceof ConnectionRevokedError) {
        // The token source has marked the side on the connection, so the job waits instead of running again at once.
        // A poll or sweep is scheduled again by the reconnect itself: the card names the side, not an entry per poll.
        if (PERIODIC.has(name)) return { outcome: 'stopped', detail: { reason: error.message } };
        await this.recordStopped(name, flow, data, {
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
    name: QueueName,
    flow: string,
    data: JobData,
    stop: { message: string; code: 'connection-paused' | 'connection-revoked'; side?: string },
  ): Promise<void> {
    const entryId = await recordActivity(this.db, {
      connectionId: data.connectionId,
      flow,
      status: 'error',
      ...crmRef(data),
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

  /** Keeps the HighLevel user a token answer named (connections made before it was kept learn it at a refresh). */
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

/** Jobs that the engine schedules itself, per connection, and schedules again when a connection resumes. */
const PERIODIC: ReadonlySet<QueueName> = new Set([QUEUES.pollPayments, QUEUES.pollQboChanges, QUEUES.sweepInvoices]);

function crmRef(data: JobData): { crmKind?: string; crmId?: string } {
  if (typeof data.transactionId === 'string') return { crmKind: 'transaction', crmId: data.transactionId };
  if (typeof data.orderId === 'string') return { crmKind: 'order', crmId: data.orderId };
  if (typeof data.invoiceId === 'string') return { crmKind: 'invoice', crmId: data.invoiceId };
  if (typeof data.contactId === 'string') return { crmKind: 'contact', crmId: data.contactId };
  return {};
}

/** The ids a job's log line names: its CRM record, or the QuickBooks record of a QuickBooks-side job. */
function recordIds(data: JobData): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const field of ['transactionId', 'orderId', 'invoiceId', 'contactId', 'customerId', 'paymentId'] as const) {
    const value = data[field];
    if (typeof value === 'string') ids[field] = value;
  }
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
