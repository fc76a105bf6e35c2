// Per-location request limiting. HighLevel allows each app 100 requests per 10 s and 200,000 per day for
// each location (reference §6) and reports the remaining budget in X-RateLimit-* headers.
// The engine supplies a limiter with state in Postgres (shared by all workers); this in-memory one serves
// single-process runs and tests, and also tracks the daily budget the headers report.
import { HighLevelError } from './errors.ts';

/** Grants permission to send one request for `key` (a location id); call the returned function when done. */
export interface RateLimiter {
  acquire(key: string): Promise<() => void>;
}

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

export interface InMemoryHighLevelLimiterOptions {
  /** Requests per window (HighLevel: 100). */
  limit?: number;
  /** Window in ms (HighLevel: 10 s). */
  windowMs?: number;
  now?: () => number;
}

const DAY_MS = 86_400_000;

interface KeyState {
  starts: number[];
  waiting: Array<() => void>;
  timer: NodeJS.Timeout | undefined;
}

export class InMemoryHighLevelLimiter implements RateLimiter, RateLimitObserver {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly keys = new Map<string, KeyState>();
  private readonly snapshots = new Map<string, RateLimitSnapshot>();

  constructor(options: InMemoryHighLevelLimiterOptions = {}) {
    this.limit = options.limit ?? 100;
    this.windowMs = options.windowMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  acquire(key: string): Promise<() => void> {
    const snapshot = this.snapshots.get(key);
    // The daily budget has no documented reset time; refuse until a day has passed since it ran out, so the
    // job queue parks the work instead of burning retries against certain 429s.
    if (snapshot?.dailyRemaining === 0 && this.now() - snapshot.observedAt < DAY_MS) {
      return Promise.reject(
        new HighLevelError({ status: 429, code: 'daily_limit', message: `HighLevel daily request budget for location ${key} is used up` }),
      );
    }
    const state = this.state(key);
    return new Promise((resolve) => {
      state.waiting.push(() => resolve(() => undefined));
      this.pump(key, state);
    });
  }

  observe(key: string, snapshot: RateLimitSnapshot): void {
    const previous = this.snapshots.get(key);
    // Keep the last known daily figure when an answer omits the headers.
    this.snapshots.set(key, { ...snapshot, dailyRemaining: snapshot.dailyRemaining ?? previous?.dailyRemaining });
  }

  /** Last daily budget HighLevel reported for a location, if any. */
  dailyRemaining(key: string): number | undefined {
    return this.snapshots.get(key)?.dailyRemaining;
  }

  snapshot(key: string): RateLimitSnapshot | undefined {
    return this.snapshots.get(key);
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
