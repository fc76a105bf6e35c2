// How many password guesses a client gets: ten attempts per account and client address in a quarter of an hour,
// then a pause. An attempt is counted when it starts, before its password hash is computed, so that parallel
// guesses cannot all be checked before the first failure is counted; a success clears its count. Keyed per account
// and address so that one client's guesses lock out neither other clients (behind a trusted proxy every client has
// its own address) nor the other accounts.
export interface LoginThrottleOptions {
  attempts?: number;
  windowMs?: number;
  /** Keys kept at most: past it, expired keys are dropped, then the oldest. */
  maxKeys?: number;
}

export class LoginThrottle {
  private readonly attempts: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly counts = new Map<string, { count: number; since: number }>();

  constructor(options: LoginThrottleOptions = {}) {
    this.attempts = options.attempts ?? 10;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /** Takes one attempt for this account from this address; false when none is left (answer 429, hash nothing). */
  take(username: string, address: string, now: number = Date.now()): boolean {
    const key = keyOf(username, address);
    const held = this.counts.get(key);
    if (held && now - held.since <= this.windowMs) {
      if (held.count >= this.attempts) return false;
      held.count += 1;
      return true;
    }
    this.counts.delete(key);
    this.counts.set(key, { count: 1, since: now });
    if (this.counts.size > this.maxKeys) this.trim(now);
    return true;
  }

  /** The attempt succeeded: its account and address start afresh. */
  succeeded(username: string, address: string): void {
    this.counts.delete(keyOf(username, address));
  }

  private trim(now: number): void {
    for (const [key, held] of this.counts) if (now - held.since > this.windowMs) this.counts.delete(key);
    for (const key of this.counts.keys()) {
      if (this.counts.size <= this.maxKeys) break;
      this.counts.delete(key);
    }
  }
}

const keyOf = (username: string, address: string) => `${username.trim().toLowerCase()}\u0000${address}`;
