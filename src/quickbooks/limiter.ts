// Per-realm request limiting. QuickBooks allows 500 requests per minute and 10 concurrent requests per
// realm per app (reference §6.2); going over earns 429s that slow everyone on that realm down.
// The engine supplies a limiter whose state lives in Postgres so the limits hold across worker
// processes; the in-memory one below serves single-process runs and tests.

import type { RateLimiter } from '../http/core.ts';

// The request core's limiter hook, keyed here by realm id.
export type { RateLimiter };

export interface InMemoryQuickBooksLimiterOptions {
  /** Requests started per window (QuickBooks: 500). */
  limit?: number;
  /** Window length in ms (QuickBooks: one minute). */
  windowMs?: number;
  /** Requests in flight at once (QuickBooks: 10). */
  concurrency?: number;
  now?: () => number;
}

interface KeyState {
  active: number;
  starts: number[];
  waiting: Array<() => void>;
  timer: NodeJS.Timeout | undefined;
}

/** A sliding-window plus concurrency limiter, fair (first come, first served) per key. */
export class InMemoryQuickBooksLimiter implements RateLimiter {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly concurrency: number;
  private readonly now: () => number;
  private readonly keys = new Map<string, KeyState>();

  constructor(options: InMemoryQuickBooksLimiterOptions = {}) {
    this.limit = options.limit ?? 500;
    this.windowMs = options.windowMs ?? 60_000;
    this.concurrency = options.concurrency ?? 10;
    this.now = options.now ?? Date.now;
  }

  acquire(key: string): Promise<() => void> {
    const state = this.state(key);
    return new Promise<() => void>((resolve) => {
      state.waiting.push(() => {
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          state.active -= 1;
          this.pump(key, state);
        });
      });
      this.pump(key, state);
    });
  }

  /** Requests in flight for a key (for metrics and tests). */
  inFlight(key: string): number {
    return this.keys.get(key)?.active ?? 0;
  }

  private state(key: string): KeyState {
    let state = this.keys.get(key);
    if (!state) {
      state = { active: 0, starts: [], waiting: [], timer: undefined };
      this.keys.set(key, state);
    }
    return state;
  }

  private pump(key: string, state: KeyState): void {
    const now = this.now();
    while (state.starts.length > 0 && (state.starts[0] ?? 0) <= now - this.windowMs) state.starts.shift();
    while (state.waiting.length > 0 && state.active < this.concurrency && state.starts.length < this.limit) {
      state.active += 1;
      state.starts.push(now);
      state.waiting.shift()?.();
    }
    if (state.waiting.length > 0 && state.starts.length >= this.limit && state.timer === undefined) {
      const wait = Math.max(1, (state.starts[0] ?? now) + this.windowMs - now);
      state.timer = setTimeout(() => {
        state.timer = undefined;
        this.pump(key, state);
      }, wait);
    }
    if (state.waiting.length === 0 && state.active === 0 && state.starts.length === 0) this.keys.delete(key);
  }
}
