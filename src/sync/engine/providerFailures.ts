// Which side a job's failure belongs to, and keeping the sides' health (src/store/sideHealth.ts) up to date as jobs
// fail and end: a lasting outage is visible while its records wait for their next try, not only once they give up.
import type pino from 'pino';
import type { Db } from '../../store/db.ts';
import { recordActivity } from '../../store/activity.ts';
import {
  connectionsWithFailures,
  recordCallFailure,
  recordGaveUp,
  recordJobEnded,
  recordWaiting,
  type Side,
} from '../../store/sideHealth.ts';
import { QuickBooksError } from '../../quickbooks/errors.ts';
import { HighLevelError } from '../../highlevel/errors.ts';
import type { JobData } from './queue.ts';

export const SIDE_NAMES: Record<Side, string> = { quickbooks: 'QuickBooks', highlevel: 'HighLevel' };

/**
 * The side whose answer failed the job, when the failure is the provider's and passes with time: a 5xx, no answer
 * (timeout, connection refused), or throttling the client could not wait out. A refusal of the request itself (4xx),
 * a refused token and HighLevel's used-up daily budget are not outages and have their own handling.
 */
export function failingSideOf(error: unknown): Side | undefined {
  if (error instanceof QuickBooksError) {
    return error.status === 0 || error.status >= 500 || error.status === 429 || error.code === '3001'
      ? 'quickbooks'
      : undefined;
  }
  if (error instanceof HighLevelError) {
    if (error.code === 'daily_limit') return undefined;
    return error.status === 0 || error.status >= 500 || error.status === 429 ? 'highlevel' : undefined;
  }
  return undefined;
}

/** What the provider said, for the card and the activity: status, code and message; no token, no request body. */
export function describeProviderFailure(error: QuickBooksError | HighLevelError | unknown): string {
  let text: string;
  if (error instanceof QuickBooksError) {
    const what = error.status === 0 ? 'no answer' : `HTTP ${error.status}`;
    text = `${what}, code ${error.code}: ${error.message}`;
  } else if (error instanceof HighLevelError) {
    text = `${error.status === 0 ? 'no answer' : `HTTP ${error.status}`}${error.code ? `, ${error.code}` : ''}: ${error.message}`;
  } else {
    text = error instanceof Error ? error.message : String(error);
  }
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

/** A failed call of a connection's side is written at most this often. */
const CALL_FAILURE_EVERY_MS = 2000;

/** How long the set of connections with failures is trusted before it is read again (see SideHealthTracker.ended). */
const FAILURES_FRESH_MS = 1000;

/**
 * Keeps the sides' health as the engine's jobs fail and end. A job that ends well is the evidence that a side
 * answers again, but most jobs end well on a healthy connection: the statement that clears a record's waiting row
 * runs only for a job that had failed before (a retry) or a connection known to have failures, and which
 * connections have failures is read once a second for all of them, not once per job.
 */
export class SideHealthTracker {
  private failing: { connections: Set<string>; at: number } | undefined;
  private readonly callFailuresWritten = new Map<string, number>();
  private reading: Promise<Set<string>> | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: pino.Logger,
  ) {}

  /** A job failed and pg-boss put it back for another try at nextTryAt. */
  async retrying(
    queue: string,
    flow: string,
    data: JobData,
    error: unknown,
    nextTryAt: Date | undefined,
    periodic: boolean,
  ): Promise<void> {
    const side = failingSideOf(error);
    if (!side) return;
    const summary = describeProviderFailure(error);
    this.failing?.connections.add(data.connectionId);
    const { outageStarted } = await recordWaiting(this.db, {
      connectionId: data.connectionId,
      recordKey: data.key,
      side,
      queue,
      periodic,
      nextTryAt: nextTryAt ?? null,
      error: summary,
    });
    if (outageStarted) await this.noteOutage(data.connectionId, flow, side, summary);
  }

  /** A job failed for the last time; its error is recorded by the engine with a Retry button. */
  async gaveUp(flow: string, data: JobData, error: unknown): Promise<void> {
    const side = failingSideOf(error);
    if (!side) return;
    const summary = describeProviderFailure(error);
    this.failing?.connections.add(data.connectionId);
    const { outageStarted } = await recordGaveUp(this.db, {
      connectionId: data.connectionId,
      recordKey: data.key,
      side,
      error: summary,
    });
    if (outageStarted) await this.noteOutage(data.connectionId, flow, side, summary);
  }

  /** A job ended without a provider failure (done, or ended for a reason of its own). */
  async ended(flow: string, data: JobData, job: { attempt: number; startedAt: Date }): Promise<void> {
    if (job.attempt === 1 && !(await this.failingConnections()).has(data.connectionId)) return;
    const recovered = await recordJobEnded(this.db, data.connectionId, data.key, job.startedAt);
    for (const { side, announced } of recovered) {
      // A failure met only by calls that the job's own tries got past was never announced: nothing to say.
      if (!announced) continue;
      await recordActivity(this.db, {
        connectionId: data.connectionId,
        flow,
        status: 'info',
        message: `${SIDE_NAMES[side]} answers again; nothing waits on it any more`,
        detail: { code: 'side-recovered', side },
      });
      this.log.info({ connectionId: data.connectionId, side }, 'provider answers again');
    }
  }

  /**
   * A call to a side failed with a 5xx or no answer and the client tries it again: the side shows as failing at once,
   * instead of once the job's tries are spent (five tries of 30 s when a provider stops answering). Written at most
   * every few seconds per connection and side. A 429 is not counted here: pacing to the limits meets it routinely.
   */
  callFailed(connectionId: string, side: Side, status: number): void {
    if (status !== 0 && status < 500) return;
    const key = `${connectionId}:${side}`;
    const now = Date.now();
    if ((this.callFailuresWritten.get(key) ?? 0) > now - CALL_FAILURE_EVERY_MS) return;
    this.callFailuresWritten.set(key, now);
    if (this.callFailuresWritten.size > 10_000) this.callFailuresWritten.clear();
    this.failing?.connections.add(connectionId);
    const error =
      status === 0 ? 'no answer (a timeout or a refused connection); trying again' : `HTTP ${status}; trying again`;
    void recordCallFailure(this.db, connectionId, side, error).catch((e) =>
      this.log.warn({ err: e }, 'could not record the side failure'),
    );
  }

  private async noteOutage(connectionId: string, flow: string, side: Side, summary: string): Promise<void> {
    await recordActivity(this.db, {
      connectionId,
      flow,
      status: 'info',
      message: `${SIDE_NAMES[side]} is failing (${summary}); the records wait and are tried again by themselves`,
      detail: { code: 'side-failing', side, error: summary },
    });
    this.log.warn({ connectionId, side, error: summary }, 'provider failing; records wait for their next try');
  }

  private async failingConnections(): Promise<Set<string>> {
    if (this.failing && Date.now() - this.failing.at < FAILURES_FRESH_MS) return this.failing.connections;
    this.reading ??= connectionsWithFailures(this.db)
      .then((connections) => {
        this.failing = { connections, at: Date.now() };
        return connections;
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}
