// What an operator scrapes (prom-client, Prometheus' text format). One registry per engine, so that two engines
// in one process (tests, a restart within a test) never share counters. Counters count what this process did;
// the job gauges are read from the store at scrape time and so describe every process sharing it.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Provider = 'quickbooks' | 'highlevel';

/** One attempt of one provider call, as the request core of both clients reports it (src/http/core.ts). */
export interface ProviderCall {
  /** HTTP status, or 0 when no answer came (timeout, connection refused). */
  status: number;
  durationMs: number;
  /** The client will try this call again. */
  retrying: boolean;
}

/** How one job ended (src/sync/engine/engine.ts: runJob). */
export type SyncOutcome = 'ok' | 'error' | 'retry' | 'failed' | 'stopped' | 'deferred' | 'skipped';

export interface QueueStats {
  queue: string;
  queued: number;
  running: number;
  failed: number;
  /** Seconds the oldest due job has waited for a worker; 0 when none waits. */
  oldestWaitingSeconds: number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly syncOutcomes: Counter<'flow' | 'status'>;
  private readonly jobsRetried: Counter<'queue'>;
  private readonly jobsFailed: Counter<'queue'>;
  private readonly jobDuration: Histogram<'queue'>;
  private readonly providerCalls: Counter<'provider' | 'status'>;
  private readonly providerRateLimited: Counter<'provider'>;
  private readonly providerRetries: Counter<'provider'>;
  private readonly providerLatency: Histogram<'provider'>;
  private readonly webhooks: Counter<'provider' | 'outcome'>;
  private readonly webhookEvents: Counter<'provider' | 'outcome'>;
  private queueStats: (() => Promise<QueueStats[]>) | undefined;

  /** processMetrics: also the process's own (CPU, memory, event loop lag, GC), once per process (the runtime's). */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'ledgerlink_' });
    this.syncOutcomes = new Counter({
      name: 'ledgerlink_sync_outcomes_total',
      help: 'Jobs run by this process, by flow and how they ended (ok, error: parked for a person, retry, failed: gave up, stopped: connection paused or revoked, deferred: put back to wait, skipped: connection gone)',
      labelNames: ['flow', 'status'],
      registers,
    });
    this.jobsRetried = new Counter({
      name: 'ledgerlink_jobs_retried_total',
      help: 'Jobs of this process that failed and will be tried again',
      labelNames: ['queue'],
      registers,
    });
    this.jobsFailed = new Counter({
      name: 'ledgerlink_jobs_failed_total',
      help: 'Jobs of this process that failed their last try (shown as errors with a Retry button)',
      labelNames: ['queue'],
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'ledgerlink_job_duration_seconds',
      help: 'Time a job of this process ran, by queue',
      labelNames: ['queue'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.providerCalls = new Counter({
      name: 'ledgerlink_provider_requests_total',
      help: 'Requests sent to a provider API (each attempt), by answer status (0: no answer)',
      labelNames: ['provider', 'status'],
      registers,
    });
    this.providerRateLimited = new Counter({
      name: 'ledgerlink_provider_rate_limited_total',
      help: 'Provider answers of 429 (rate limited)',
      labelNames: ['provider'],
      registers,
    });
    this.providerRetries = new Counter({
      name: 'ledgerlink_provider_retries_total',
      help: 'Provider requests the client sends again (429, 5xx, timeouts, an access token refreshed after a 401)',
      labelNames: ['provider'],
      registers,
    });
    this.providerLatency = new Histogram({
      name: 'ledgerlink_provider_request_duration_seconds',
      help: 'Time from sending a provider request to its whole answer (limiter waits excluded)',
      labelNames: ['provider'],
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30],
      registers,
    });
    this.webhooks = new Counter({
      name: 'ledgerlink_webhook_requests_total',
      help: 'Webhook deliveries received, by outcome (accepted: answered 200; refused: bad signature, too large or malformed; failed: could not be stored, the sender retries)',
      labelNames: ['provider', 'outcome'],
      registers,
    });
    this.webhookEvents = new Counter({
      name: 'ledgerlink_webhook_events_total',
      help: 'Events in accepted webhook deliveries, by outcome (stored with its job, duplicate of one stored before, held: its connection is paused and it syncs on resume, ignored: no live connection or no flow for it)',
      labelNames: ['provider', 'outcome'],
      registers,
    });
    // A store that does not answer leaves the job gauges out of this scrape (/readyz reports it) rather than
    // failing the whole scrape and hiding the process's own counters with them.
    const stats = async (): Promise<QueueStats[]> => (this.queueStats ? this.queueStats().catch(() => []) : []);
    let pending: Promise<QueueStats[]> | undefined;
    // The three gauges below are filled by one store query per scrape, shared between them.
    const read = () => (pending ??= stats().finally(() => setTimeout(() => (pending = undefined), 0)));
    new Gauge({
      name: 'ledgerlink_jobs',
      help: 'Jobs in the store by queue and state (queued: waiting or waiting for a retry; running; failed: gave up), all processes',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const s of await read()) {
          this.set({ queue: s.queue, state: 'queued' }, s.queued);
          this.set({ queue: s.queue, state: 'running' }, s.running);
          this.set({ queue: s.queue, state: 'failed' }, s.failed);
        }
      },
    });
    new Gauge({
      name: 'ledgerlink_job_oldest_waiting_seconds',
      help: 'Seconds the oldest job that is due has waited for a worker, by queue (0: none waiting)',
      labelNames: ['queue'],
      registers,
      async collect() {
        this.reset();
        for (const s of await read()) this.set({ queue: s.queue }, s.oldestWaitingSeconds);
      },
    });
  }

  /** Where the job gauges come from (the engine's queue). */
  readQueuesWith(read: () => Promise<QueueStats[]>): void {
    this.queueStats = read;
  }

  syncOutcome(flow: string, status: SyncOutcome, queue: string, seconds: number): void {
    this.syncOutcomes.inc({ flow, status });
    this.jobDuration.observe({ queue }, seconds);
    if (status === 'retry') this.jobsRetried.inc({ queue });
    if (status === 'failed') this.jobsFailed.inc({ queue });
  }

  providerCall(provider: Provider, call: ProviderCall): void {
    this.providerCalls.inc({ provider, status: String(call.status) });
    this.providerLatency.observe({ provider }, call.durationMs / 1000);
    if (call.status === 429) this.providerRateLimited.inc({ provider });
    if (call.retrying) this.providerRetries.inc({ provider });
  }

  webhook(provider: Provider, outcome: 'accepted' | 'refused' | 'failed'): void {
    this.webhooks.inc({ provider, outcome });
  }

  webhookEvent(provider: string, outcome: 'stored' | 'duplicate' | 'held' | 'ignored'): void {
    this.webhookEvents.inc({ provider, outcome });
  }

  /** The text a Prometheus server scrapes. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
