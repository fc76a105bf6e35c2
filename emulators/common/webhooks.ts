// Webhook delivery shared by both emulators: a queue per endpoint, sent in order, with the provider's retry
// policy and schedule (compressed by the clock factor), and the webhook faults of the FaultInjector
// (drop, duplicate, reorder). Each emulator builds the body and the signature headers; this module only delivers.
import { randomUUID } from 'node:crypto';
import type { EmulatorClock } from './clock.ts';
import type { FaultInjector } from './faults.ts';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  /** The exact bytes that were signed. */
  body: string;
  /** A label for the log (event types in the body). */
  label?: string;
}

export interface DeliveryAttempt {
  at: string;
  status: number | null;
  error?: string;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'dropped';

export interface DeliveryRecord {
  id: string;
  url: string;
  label: string;
  body: string;
  headers: Record<string, string>;
  state: DeliveryState;
  attempts: DeliveryAttempt[];
  /** Which fault the injector applied, if any. */
  fault?: 'duplicate' | 'reorder' | 'drop';
  createdAt: string;
}

export interface WebhookDispatcherOptions {
  clock: EmulatorClock;
  faults: FaultInjector;
  /** Emulated delays before each retry; its length is the number of retries. */
  retryScheduleMs: number[];
  /** Whether an answer (HTTP status, or null for a network error or timeout) earns a retry. */
  shouldRetry: (status: number | null) => boolean;
  /** Which statuses count as delivered (default any 2xx; Intuit accepts only 200). */
  isDelivered?: (status: number) => boolean;
  /** Real milliseconds to wait for an answer before counting the attempt as a timeout. */
  timeoutMs?: number;
  /** Records kept in the log (oldest forgotten first). */
  logLimit?: number;
}

interface QueueItem {
  record: DeliveryRecord;
  retriesUsed: number;
}

export class WebhookDispatcher {
  private readonly log: DeliveryRecord[] = [];
  private readonly queues = new Map<string, QueueItem[]>();
  private readonly running = new Set<string>();
  private readonly heldBack = new Map<string, QueueItem>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private pendingRetries = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly options: WebhookDispatcherOptions) {}

  /** Queues one delivery; returns its record (state changes as it is delivered). */
  send(request: WebhookRequest): DeliveryRecord {
    const record: DeliveryRecord = {
      id: randomUUID(),
      url: request.url,
      label: request.label ?? '',
      body: request.body,
      headers: request.headers,
      state: 'pending',
      attempts: [],
      createdAt: this.options.clock.now().toISOString(),
    };
    this.remember(record);
    const fault = this.options.faults.pickWebhookFault();
    if (fault === 'drop') {
      record.fault = 'drop';
      record.state = 'dropped';
      return record;
    }
    const item: QueueItem = { record, retriesUsed: 0 };
    if (fault === 'reorder') {
      // Held back until the next delivery to the same endpoint has gone out (or a short while, if none comes).
      record.fault = 'reorder';
      const previous = this.heldBack.get(request.url);
      if (previous) this.enqueue(previous);
      this.heldBack.set(request.url, item);
      this.schedule(() => this.releaseHeld(request.url, item), 2_000, true);
      return record;
    }
    this.enqueue(item);
    const held = this.heldBack.get(request.url);
    if (held) {
      this.heldBack.delete(request.url);
      this.enqueue(held);
    }
    if (fault === 'duplicate') {
      record.fault = 'duplicate';
      const copy: DeliveryRecord = { ...record, id: randomUUID(), attempts: [], state: 'pending', fault: 'duplicate' };
      this.remember(copy);
      this.enqueue({ record: copy, retriesUsed: 0 });
    }
    return record;
  }

  /** The delivery log, oldest first. */
  deliveries(): readonly DeliveryRecord[] {
    return this.log;
  }

  clearLog(): void {
    this.log.length = 0;
  }

  /** Resolves when nothing is queued, in flight, held back or waiting for a retry. */
  async flush(): Promise<void> {
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queues.clear();
    this.heldBack.clear();
    this.pendingRetries = 0;
    this.notifyIdle();
  }

  private remember(record: DeliveryRecord): void {
    this.log.push(record);
    const limit = this.options.logLimit ?? 2_000;
    if (this.log.length > limit) this.log.splice(0, this.log.length - limit);
  }

  private releaseHeld(url: string, item: QueueItem): void {
    if (this.heldBack.get(url) === item) {
      this.heldBack.delete(url);
      this.enqueue(item);
    }
  }

  private enqueue(item: QueueItem): void {
    if (this.closed) return;
    const queue = this.queues.get(item.record.url) ?? [];
    queue.push(item);
    this.queues.set(item.record.url, queue);
    void this.drain(item.record.url);
  }

  private async drain(url: string): Promise<void> {
    if (this.running.has(url)) return;
    this.running.add(url);
    try {
      const queue = this.queues.get(url);
      while (queue && queue.length > 0 && !this.closed) {
        const item = queue.shift()!;
        await this.attempt(item);
      }
      this.queues.delete(url);
    } finally {
      this.running.delete(url);
      this.notifyIdle();
    }
  }

  private async attempt(item: QueueItem): Promise<void> {
    const { record } = item;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs ?? 10_000);
    let status: number | null = null;
    let error: string | undefined;
    try {
      const response = await fetch(record.url, {
        method: 'POST',
        headers: record.headers,
        body: record.body,
        signal: controller.signal,
      });
      status = response.status;
      await response.arrayBuffer().catch(() => undefined);
    } catch (cause) {
      error = controller.signal.aborted ? 'timeout' : cause instanceof Error ? cause.message : String(cause);
    } finally {
      clearTimeout(timer);
    }
    record.attempts.push({ at: this.options.clock.now().toISOString(), status, ...(error ? { error } : {}) });
    if (status !== null && (this.options.isDelivered ?? ((s: number) => s >= 200 && s < 300))(status)) {
      record.state = 'delivered';
      return;
    }
    const delay = this.options.retryScheduleMs[item.retriesUsed];
    if (delay === undefined || !this.options.shouldRetry(status)) {
      record.state = 'failed';
      return;
    }
    item.retriesUsed += 1;
    this.pendingRetries += 1;
    this.schedule(
      () => {
        this.pendingRetries -= 1;
        this.enqueue(item);
      },
      delay,
      false,
    );
  }

  private schedule(fn: () => void, emulatedMs: number, realMs: boolean): void {
    const wait = realMs
      ? emulatedMs / Math.max(1, this.options.clock.factor)
      : this.options.clock.realDelay(emulatedMs);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
      this.notifyIdle();
    }, wait);
    timer.unref();
    this.timers.add(timer);
  }

  private isIdle(): boolean {
    return this.running.size === 0 && this.queues.size === 0 && this.heldBack.size === 0 && this.pendingRetries === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
