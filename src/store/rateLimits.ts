// Provider rate limits whose state lives in PostgreSQL, so that every process sharing the store keeps within
// one budget per QuickBooks realm or HighLevel location. Two mechanisms:
// - a GCRA schedule (a "theoretical arrival time" per key): requests are spaced evenly, with a small burst, so
//   that no window of the provider's length ever sees more than the limit, whatever the windows' alignment;
// - leased concurrency slots (QuickBooks allows 10 requests in flight per realm); a lease expires if the
//   worker holding it dies, so a killed process never leaks capacity for long.
import { randomUUID } from 'node:crypto';
import type { Queryable } from './db.ts';

export interface RateLimiter {
  /** Waits for a turn under the key's limits; the returned function ends the request (frees its slot). */
  acquire(key: string): Promise<() => void>;
}

export interface LimitPolicy {
  /** Requests allowed per window by the provider. */
  limit: number;
  windowMs: number;
  /** Fraction of the limit to use (headroom for clocks and other apps): 0.95 by default. */
  utilisation?: number;
  /** Requests that may go back to back before spacing applies. */
  burst?: number;
  /** Requests in flight at once; absent means no cap. */
  concurrency?: number;
}

export class PostgresRateLimiter implements RateLimiter {
  private readonly holder = randomUUID();
  private readonly seededSlots = new Set<string>();
  /**
   * This process's requests wait for a turn, and for a slot, in line per key: only the first of the line asks the
   * store, the rest wait in memory. Were each waiting request to poll the store by itself, thirty jobs waiting on
   * one realm would ask, be refused and wake together, and the limiter would make more statements than everything
   * else together. The schedule in the store still decides between processes.
   */
  private readonly turnLines = new Map<string, Promise<void>>();
  private readonly slotLines = new Map<string, Promise<void>>();
  /** Wakes the first of a key's slot line when this process frees a slot (it would otherwise sleep out its poll). */
  private readonly slotFreed = new Map<string, () => void>();

  constructor(
    private readonly db: Queryable,
    private readonly policyFor: (key: string) => LimitPolicy | undefined,
    private readonly options: { leaseMs?: number; pollMs?: number } = {},
  ) {}

  async acquire(key: string): Promise<() => void> {
    const policy = this.policyFor(key);
    if (!policy) return () => {};
    const concurrency = policy.concurrency;
    const slot = concurrency ? await inLine(this.slotLines, key, () => this.takeSlot(key, concurrency)) : undefined;
    try {
      await inLine(this.turnLines, key, () => this.waitForTurn(key, policy));
    } catch (error) {
      if (slot !== undefined) await this.freeSlot(key, slot);
      throw error;
    }
    let released = false;
    return () => {
      if (released || slot === undefined) return;
      released = true;
      void this.freeSlot(key, slot).catch(() => {});
    };
  }

  private async waitForTurn(key: string, policy: LimitPolicy): Promise<void> {
    const intervalMs = policy.windowMs / (policy.limit * (policy.utilisation ?? 0.95));
    const toleranceMs = Math.max(0, (policy.burst ?? 1) - 1) * intervalMs;
    for (;;) {
      // Allowed when the schedule is at most `toleranceMs` ahead of now; the schedule then moves one interval on.
      // When refused, the same statement says how long to wait (its read sees the schedule as it was).
      const result = await this.db.query<{ allowed: boolean; wait_ms: number | string | null }>(
        `WITH attempt AS (
           INSERT INTO rate_schedules AS s (key, tat) VALUES ($1, clock_timestamp() + make_interval(secs => $2 / 1000.0))
           ON CONFLICT (key) DO UPDATE SET tat = GREATEST(s.tat, clock_timestamp()) + make_interval(secs => $2 / 1000.0)
             WHERE GREATEST(s.tat, clock_timestamp()) - clock_timestamp() <= make_interval(secs => $3 / 1000.0)
           RETURNING 1
         )
         SELECT EXISTS (SELECT 1 FROM attempt) AS allowed,
           (SELECT GREATEST(0, EXTRACT(EPOCH FROM (tat - clock_timestamp())) * 1000 - $3) FROM rate_schedules WHERE key = $1) AS wait_ms`,
        [key, intervalMs, toleranceMs],
      );
      const row = result.rows[0];
      if (row?.allowed) return;
      await sleep(Math.max(1, Math.ceil(Number(row?.wait_ms ?? intervalMs))));
    }
  }

  private async takeSlot(key: string, concurrency: number): Promise<number> {
    if (!this.seededSlots.has(key)) {
      await this.db.query(
        `INSERT INTO rate_slots (key, slot) SELECT $1, s FROM generate_series(0, $2 - 1) AS s ON CONFLICT DO NOTHING`,
        [key, concurrency],
      );
      this.seededSlots.add(key);
    }
    const leaseSeconds = (this.options.leaseMs ?? 120_000) / 1000;
    for (let attempt = 0; ; attempt++) {
      const result = await this.db.query<{ slot: number }>(
        `UPDATE rate_slots SET holder = $3, expires_at = clock_timestamp() + make_interval(secs => $4)
         WHERE (key, slot) = (SELECT key, slot FROM rate_slots WHERE key = $1 AND slot < $2
                                AND (holder IS NULL OR expires_at < clock_timestamp())
                              ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING slot`,
        [key, concurrency, this.holder, leaseSeconds],
      );
      if (result.rows[0]) return result.rows[0].slot;
      // Every slot is taken: wait for one of ours to be freed, or poll again (another process may free one).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(50, (this.options.pollMs ?? 5) * (attempt + 1)));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.slotFreed.set(key, done);
      });
      this.slotFreed.delete(key);
    }
  }

  private async freeSlot(key: string, slot: number): Promise<void> {
    await this.db.query(
      `UPDATE rate_slots SET holder = NULL, expires_at = NULL WHERE key = $1 AND slot = $2 AND holder = $3`,
      [key, slot, this.holder],
    );
    this.slotFreed.get(key)?.();
  }
}

/** Runs `fn` once every earlier caller of the same line and key is done, so that one of them at a time waits on the store. */
async function inLine<T>(lines: Map<string, Promise<void>>, key: string, fn: () => Promise<T>): Promise<T> {
  const before = lines.get(key);
  let leave!: () => void;
  const mine = new Promise<void>((resolve) => (leave = resolve));
  const tail = (before ?? Promise.resolve()).then(() => mine);
  lines.set(key, tail);
  try {
    if (before) await before;
    return await fn();
  } finally {
    leave();
    if (lines.get(key) === tail) lines.delete(key);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
