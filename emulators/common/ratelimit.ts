// Rate limits as the providers apply them: a fixed window of N requests per key (QuickBooks: 500 a minute per
// realm; HighLevel: 100 per 10 s and 200,000 a day per app and location), and a cap on requests in flight.
import type { EmulatorClock } from './clock.ts';

export interface WindowLimiterOptions {
  /** Requests allowed per window; Infinity lifts the limit. */
  limit: number;
  windowMs: number;
  clock: EmulatorClock;
  /** Keys kept at most; the oldest windows are forgotten first (memory grows with data only). */
  maxKeys?: number;
}

export interface WindowDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Emulated epoch milliseconds at which the current window ends. */
  resetAt: number;
}

export class WindowLimiter {
  private readonly windows = new Map<string, { start: number; used: number }>();

  constructor(private readonly options: WindowLimiterOptions) {}

  get limit(): number {
    return this.options.limit;
  }

  take(key: string): WindowDecision {
    const { limit, windowMs, clock } = this.options;
    const now = clock.nowMs();
    let window = this.windows.get(key);
    if (!window || now - window.start >= windowMs) {
      window = { start: now - ((now - (window?.start ?? now)) % windowMs), used: 0 };
      this.windows.delete(key);
      this.windows.set(key, window);
      this.trim();
    }
    const resetAt = window.start + windowMs;
    if (window.used >= limit) return { allowed: false, limit, remaining: 0, resetAt };
    window.used += 1;
    return {
      allowed: true,
      limit,
      remaining: Number.isFinite(limit) ? limit - window.used : Number.MAX_SAFE_INTEGER,
      resetAt,
    };
  }

  /** What take() would say, without counting a request. */
  peek(key: string): WindowDecision {
    const { limit, windowMs, clock } = this.options;
    const window = this.windows.get(key);
    const now = clock.nowMs();
    if (!window || now - window.start >= windowMs)
      return { allowed: true, limit, remaining: limit, resetAt: now + windowMs };
    return {
      allowed: window.used < limit,
      limit,
      remaining: Math.max(0, limit - window.used),
      resetAt: window.start + windowMs,
    };
  }

  /** Sets how many requests the key's current window has counted (a window opens now if none is open). */
  setUsed(key: string, used: number): void {
    const now = this.options.clock.nowMs();
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.options.windowMs) {
      window = { start: now, used: 0 };
      this.windows.delete(key);
      this.windows.set(key, window);
      this.trim();
    }
    window.used = Math.max(0, used);
  }

  reset(): void {
    this.windows.clear();
  }

  private trim(): void {
    const max = this.options.maxKeys ?? 100_000;
    while (this.windows.size > max) {
      const oldest = this.windows.keys().next().value;
      if (oldest === undefined) break;
      this.windows.delete(oldest);
    }
  }
}

export class ConcurrencyLimiter {
  private readonly inFlight = new Map<string, number>();

  /** max: requests in flight per key; Infinity lifts the limit. */
  constructor(public max: number) {}

  /** True when the request may proceed; the caller must release() it when the answer is sent. */
  acquire(key: string): boolean {
    const current = this.inFlight.get(key) ?? 0;
    if (current >= this.max) return false;
    this.inFlight.set(key, current + 1);
    return true;
  }

  release(key: string): void {
    const current = this.inFlight.get(key) ?? 0;
    if (current <= 1) this.inFlight.delete(key);
    else this.inFlight.set(key, current - 1);
  }

  current(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }
}
