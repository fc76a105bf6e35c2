// `requestid` (reference §2.4): a write repeated with the same requestid on the same realm does not run again;
// the first answer (status and body) is replayed. The cache is bounded (oldest forgotten first) so memory stays
// flat under load.
export interface StoredAnswer {
  status: number;
  body: string;
}

export const MAX_REQUEST_ID_LENGTH = 50;

export class RequestIdCache {
  private readonly answers = new Map<string, StoredAnswer>();

  constructor(private readonly maxEntries = 20_000) {}

  private readonly running = new Map<string, Promise<void>>();

  /** Waits until no other request with this requestid is running, then holds it; call the returned release. */
  async acquire(realmId: string, requestId: string): Promise<() => void> {
    const key = `${realmId}\u0000${requestId}`;
    for (let current = this.running.get(key); current; current = this.running.get(key)) await current;
    let done!: () => void;
    this.running.set(key, new Promise<void>((resolve) => (done = resolve)));
    return () => {
      this.running.delete(key);
      done();
    };
  }

  get(realmId: string, requestId: string): StoredAnswer | undefined {
    return this.answers.get(`${realmId}\u0000${requestId}`);
  }

  set(realmId: string, requestId: string, answer: StoredAnswer): void {
    const key = `${realmId}\u0000${requestId}`;
    this.answers.delete(key);
    this.answers.set(key, answer);
    while (this.answers.size > this.maxEntries) {
      const oldest = this.answers.keys().next().value;
      if (oldest === undefined) break;
      this.answers.delete(oldest);
    }
  }

  forgetRealm(realmId: string): void {
    for (const key of this.answers.keys()) if (key.startsWith(`${realmId}\u0000`)) this.answers.delete(key);
  }

  get size(): number {
    return this.answers.size;
  }
}
