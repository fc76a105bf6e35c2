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

export function resolveLimits(limits: false | Partial<LimitSettings> | undefined, factor: number | undefined): LimitSettings {
  if (limits === false || factor === Infinity) return { perMinute: Infinity, concurrent: Infinity, batchPerMinute: Infinity };
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

  constructor(readonly settings: LimitSettings, clock: EmulatorClock) {
    this.requests = new WindowLimiter({ limit: settings.perMinute, windowMs: 60_000, clock });
    this.batches = new WindowLimiter({ limit: settings.batchPerMinute, windowMs: 60_000, clock });
    this.inFlight = new ConcurrencyLimiter(settings.concurrent);
  }

  /** Counts one request (and, for a batch, one more per extra item); false when the realm is over a limit. */
  take(realmId: string, batchItems?: number): boolean {
    if (!this.requests.take(realmId).allowed) return false;
    if (batchItems !== undefined) {
      if (!this.batches.take(realmId).allowed) return false;
      for (let i = 1; i < batchItems; i++) if (!this.requests.take(realmId).allowed) return false;
    }
    return true;
  }

  reset(): void {
    this.requests.reset();
    this.batches.reset();
  }
}
