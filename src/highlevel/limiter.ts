// Per-location request limiting. HighLevel allows each app 100 requests per 10 s and 200,000 per day for
// each location (reference §6) and reports the remaining budget in X-RateLimit-* headers.
// The engine paces the burst limit with a limiter whose state is in Postgres (shared by all workers) and wraps it
// in a DailyLimitedLimiter, which hears the daily headers; the in-memory one serves single-process runs and tests.
import type { RateLimiter } from '../http/core.ts';
import { HighLevelError } from './errors.ts';

// The request core's limiter hook, keyed here by location id.
export type { RateLimiter };

/** What HighLevel reported about a location's budgets on its last answer. */
export interface RateLimitSnapshot {
  dailyLimit: number | undefined;
  dailyRemaining: number | undefined;
  intervalMs: number | undefined;
  max: number | undefined;
  remaining: number | undefined;
  observedAt: number;
}

/** Optional: a limiter that wants to hear the X-RateLimit-* headers of every answer. */
export interface RateLimitObserver {
  observe(key: string, snapshot: RateLimitSnapshot): void;
}

export function readRateLimitHeaders(headers: Headers, now: number): RateLimitSnapshot {
  const num = (name: string): number | undefined => {
    const v = headers.get(name);
    if (v === null || v.trim() === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  return {
    dailyLimit: num('x-ratelimit-limit-daily'),
    dailyRemaining: num('x-ratelimit-daily-remaining'),
    intervalMs: num('x-ratelimit-interval-milliseconds'),
    max: num('x-ratelimit-max'),
    remaining: num('x-ratelimit-remaining'),
    observedAt: now,
  };
}

/** A location's daily budget as HighLevel last reported it. */
export interface DailyBudget {
  limit: number;
  remaining: number;
  observedAt: number;
}

/** Optional: a limiter that can tell a location's daily budget (bulk flows keep a reserve of it for live work). */
export interface DailyBudgetSource {
  dailyBudget(key: string): DailyBudget | undefined;
}

export interface DailyLimitOptions {
  /**
   * How long requests are refused once HighLevel reports 0 left, before one request goes to learn whether the budget
   * is back. HighLevel documents no reset time (reference §6: no X-RateLimit-Reset), so a day since exhaustion is the
   * safe wait; an hour is assumed here (the budget may reset at a fixed hour or roll), at the cost of one refused
   * request an hour per process while it is still spent.
   */
  probeAfterMs?: number;
  now?: () => number;
}

const HOUR_MS = 3_600_000;

/**
 * Adds HighLevel's daily limit to a burst limiter: remembers the last daily figures each location's answers carried
 * (X-RateLimit-Limit-Daily, X-RateLimit-Daily-Remaining) and, once none is left, refuses requests here (no call
 * spent) with a `daily_limit` error until the next probe is due. Memory per process is enough: the headers are
 * HighLevel's own count for the app and location, so every process learns the truth from its own answers.
 */
export class DailyLimitedLimiter implements RateLimiter, RateLimitObserver, DailyBudgetSource {
  private readonly snapshots = new Map<string, RateLimitSnapshot>();
  /** Locations whose budget ran out: when the next request may go to HighLevel to see whether it is back. */
  private readonly probeAt = new Map<string, number>();
  private readonly probeAfterMs: number;
  private readonly now: () => number;

  constructor(
    private readonly burst: RateLimiter,
    options: DailyLimitOptions = {},
  ) {
    this.probeAfterMs = options.probeAfterMs ?? HOUR_MS;
    this.now = options.now ?? Date.now;
  }

  acquire(key: string): Promise<() => void> {
    const probeAt = this.probeAt.get(key);
    if (probeAt !== undefined) {
      const now = this.now();
      if (now < probeAt) {
        return Promise.reject(
          new HighLevelError({
            status: 429,
            code: 'daily_limit',
            retryAfterMs: probeAt - now,
            message: `HighLevel daily request budget for location ${key} is used up; the next request goes at ${new Date(probeAt).toISOString()} to see whether it is back`,
          }),
        );
      }
      // This request is the probe; the others wait for what its answer says (observe).
      this.probeAt.set(key, now + this.probeAfterMs);
    }
    return this.burst.acquire(key);
  }

  observe(key: string, snapshot: RateLimitSnapshot): void {
    const previous = this.snapshots.get(key);
    // Keep the last known daily figures when an answer omits the headers.
    const merged = {
      ...snapshot,
      dailyLimit: snapshot.dailyLimit ?? previous?.dailyLimit,
      dailyRemaining: snapshot.dailyRemaining ?? previous?.dailyRemaining,
    };
    this.snapshots.set(key, merged);
    if (snapshot.dailyRemaining === undefined) return;
    if (snapshot.dailyRemaining <= 0) this.probeAt.set(key, snapshot.observedAt + this.probeAfterMs);
    else this.probeAt.delete(key);
  }

  dailyBudget(key: string): DailyBudget | undefined {
    const s = this.snapshots.get(key);
    if (s?.dailyLimit === undefined || s.dailyRemaining === undefined) return undefined;
    return { limit: s.dailyLimit, remaining: s.dailyRemaining, observedAt: s.observedAt };
  }

  /** Last daily budget HighLevel reported for a location, if any. */
  dailyRemaining(key: string): number | undefined {
    return this.snapshots.get(key)?.dailyRemaining;
  }

  snapshot(key: string): RateLimitSnapshot | undefined {
    return this.snapshots.get(key);
  }
}

export interface InMemoryHighLevelLimiterOptions extends DailyLimitOptions {
  /** Requests per window (HighLevel: 100). */
  limit?: number;
  /** Window in ms (HighLevel: 10 s). */
  windowMs?: number;
}

/** HighLevel's burst window and daily limit kept in this process's memory. */
export class InMemoryHighLevelLimiter extends DailyLimitedLimiter {
  constructor(options: InMemoryHighLevelLimiterOptions = {}) {
    super(new SlidingWindowLimiter(options.limit ?? 100, options.windowMs ?? 10_000, options.now ?? Date.now), options);
  }
}

interface KeyState {
  starts: number[];
  waiting: Array<() => void>;
  timer: NodeJS.Timeout | undefined;
}

/** At most `limit` requests started in any `windowMs`, first come first served, per key. */
class SlidingWindowLimiter implements RateLimiter {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  acquire(key: string): Promise<() => void> {
    const state = this.state(key);
    return new Promise((resolve) => {
      state.waiting.push(() => resolve(() => undefined));
      this.pump(key, state);
    });
  }

  private state(key: string): KeyState {
    let state = this.keys.get(key);
    if (!state) {
      state = { starts: [], waiting: [], timer: undefined };
      this.keys.set(key, state);
    }
    return state;
  }

  private pump(key: string, state: KeyState): void {
    const now = this.now();
    while (state.starts.length > 0 && (state.starts[0] ?? 0) <= now - this.windowMs) state.starts.shift();
    while (state.waiting.length > 0 && state.starts.length < this.limit) {
      state.starts.push(now);
      state.waiting.shift()?.();
    }
    if (state.waiting.length > 0 && state.timer === undefined) {
      const wait = Math.max(1, (state.starts[0] ?? now) + this.windowMs - now);
      state.timer = setTimeout(() => {
        state.timer = undefined;
        this.pump(key, state);
      }, wait);
    }
    if (state.waiting.length === 0 && state.starts.length === 0) this.keys.delete(key);
  }
}
