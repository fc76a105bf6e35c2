// Intuit's throttling (reference §6.2): 500 requests a minute per realm (batch calls and their items count),
// 10 requests in flight per realm, 40 batch calls a minute per realm. Over a limit: 429 with Fault type SERVICE,
// code 3001. limitFactor scales the per-minute limits (0.1 -> 50 a minute); Infinity or `limits: false` lifts them.
import type { EmulatorClock } from '../common/clock.ts';
import { ConcurrencyLimiter, WindowLimiter } from '../common/ratelimit.ts';

export interface LimitSettings {
  perMinute: number;
  concurrent: number;
  batchPerMinute: number;
}

export const INTUIT_LIMITS: LimitSettings = { perMinute: 500, concurrent: 10, batchPerMinute: 40 };

export function resolveLimits(
  limits: false | Partial<LimitSettings> | undefined,
  factor: number | undefined,
): LimitSettings {
  if (limits === false || factor === Infinity)
    return { perMinute: Infinity, concurrent: Infinity, batchPerMinute: Infinity };
  const f = factor ?? 1;
  const scale = (n: number): number => (Number.isFinite(n) ? Math.max(1, Math.floor(n * f)) : n);
  return {
    perMinute: limits?.perMinute ?? scale(INTUIT_LIMITS.perMinute),
    // Concurrency is not scaled by the factor: a benchmark with a short run still opens the same number of sockets.
    concurrent: limits?.concurrent ?? INTUIT_LIMITS.concurrent,
    batchPerMinute: limits?.batchPerMinute ?? scale(INTUIT_LIMITS.batchPerMinute),
  };
}

export class RealmLimits {
  private readonly requests: WindowLimiter;
  private readonly batches: WindowLimiter;
  readonly inFlight: ConcurrencyLimiter;
  /** Per realm: HTTP calls, limit units (a batch counts its items) and 429s, read by benchmarks to count calls. */
  readonly counts = new Map<string, { calls: number; units: number; throttled: number }>();

  constructor(
    readonly settings: LimitSettings,
    clock: EmulatorClock,
  ) {
    this.requests = new WindowLimiter({ limit: settings.perMinute, windowMs: 60_000, clock });
    this.batches = new WindowLimiter({ limit: settings.batchPerMinute, windowMs: 60_000, clock });
    this.inFlight = new ConcurrencyLimiter(settings.concurrent);
  }

  /** Counts one request (and, for a batch, one more per extra item); false when the realm is over a limit. */
  take(realmId: string, batchItems?: number): boolean {
    const count = this.countOf(realmId);
    count.calls += 1;
    count.units += Math.max(1, batchItems ?? 1);
    if (!this.requests.take(realmId).allowed) return this.refuse(count);
    if (batchItems !== undefined) {
      if (!this.batches.take(realmId).allowed) return this.refuse(count);
      for (let i = 1; i < batchItems; i++) if (!this.requests.take(realmId).allowed) return this.refuse(count);
    }
    return true;
  }

  /** A request refused for the in-flight cap (api.ts answers the 429). */
  throttledInFlight(realmId: string): void {
    this.countOf(realmId).throttled += 1;
  }

  private countOf(realmId: string): { calls: number; units: number; throttled: number } {
    let count = this.counts.get(realmId);
    if (!count) {
      count = { calls: 0, units: 0, throttled: 0 };
      this.counts.set(realmId, count);
    }
    return count;
  }

  private refuse(count: { throttled: number }): false {
    count.throttled += 1;
    return false;
  }

  reset(): void {
    this.requests.reset();
    this.batches.reset();
  }
}
