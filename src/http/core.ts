// The request core both provider clients go through: token, limiter slot, timeout, retries with full-jitter backoff
// or the server's Retry-After, one token refresh after a rejected token, and the answer checked against the call's
// zod schema. What differs between QuickBooks and HighLevel (URLs and headers, what an error body says, which
// failures may be tried again, which 401 a new token cures) is a ProviderRules object the client plugs in, so the
// two clients cannot drift apart on how a call is retried or limited. Imports nothing from the rest of `src/`.
import type { Logger } from 'pino';
import type { z } from 'zod';

/** Supplies access tokens for the realm or location a client acts for; the engine keeps them (encrypted). */
export interface TokenSource {
  accessToken(): Promise<string>;
  /** Called once after the provider rejected the token (ProviderRules.tokenRejected); a fresh token or throw. */
  refreshAfterUnauthorized(): Promise<string>;
}

/** Grants permission to send one request for `key` (a realm or location id); call the returned function when done. */
export interface RateLimiter {
  acquire(key: string): Promise<() => void>;
}

export interface RetryOptions {
  /** Attempts in total, the first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this is not slept through: the error is thrown with retryAfterMs for the job queue. */
  maxRetryAfterMs?: number;
}

/** One attempt of one call, for the metrics (status 0: no answer); `retrying` says the client tries again. */
export type CallObserver = (call: { status: number; durationMs: number; retrying: boolean }) => void;

/** What both clients take besides their provider's own settings. */
export interface HttpCoreOptions {
  tokens: TokenSource;
  /** Shared limiter; without one, requests are not limited client-side. */
  limiter?: RateLimiter | undefined;
  timeoutMs?: number;
  retry?: RetryOptions;
  logger?: Logger | undefined;
  onCall?: CallObserver | undefined;
  fetch?: typeof fetch;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export type QueryValue = string | number | boolean | undefined;

/** The failure every provider error carries: the HTTP status (0 without an answer) and the wait the server asked. */
export interface ProviderFailure extends Error {
  readonly status: number;
  readonly retryAfterMs: number | undefined;
}

/** An HTTP answer as the core read it, before the provider says what it means. */
export interface Answer {
  status: number;
  ok: boolean;
  headers: Headers;
  text: string;
  /** The body parsed as JSON; undefined when it is empty or not JSON. */
  json: unknown;
  /** When the answer arrived (ms since the epoch), to turn an HTTP-date Retry-After into a wait. */
  receivedAt: number;
}

export type AnswerReading<E> = { ok: true; body: unknown } | { ok: false; error: E };

/** The provider-specific parts of the core. */
export interface ProviderRules<E extends ProviderFailure> {
  /** Starts the core's log messages: "quickbooks", "highlevel". */
  readonly name: string;
  /** The limiter key (realm or location id). */
  readonly limiterKey: string;
  /** Fields every log line about this client carries, e.g. { realmId }. */
  readonly logFields: Record<string, unknown>;
  /** Hears every answer, failed or not (HighLevel's X-RateLimit-* headers). */
  heard?(answer: Answer): void;
  /** What an answer means: the body to check against the schema, or the provider's error. */
  read(answer: Answer): AnswerReading<E>;
  /** No answer came: our timeout ran out or the connection failed. */
  noAnswer(failure: { timedOut: boolean; timeoutMs: number; cause: unknown }): E;
  /** The body does not match the call's schema; `issues` names the first few mismatches. */
  unexpectedBody(call: { method: string; path: string; answer: Answer; issues: string }): E;
  /** The provider refused the access token in a way a new token cures; the core refreshes once per call. */
  tokenRejected(error: E): boolean;
  /** May this failure be tried again? `answered` is false for timeouts and connection failures. */
  retryable(error: E, call: { answered: boolean; idempotent: boolean }): boolean;
  /** The error's provider-specific fields worth a log line (code, transaction id). */
  logDetail?(error: E): Record<string, unknown>;
}

export interface CoreRequest<S extends z.ZodType> {
  method: string;
  url: URL;
  /** Names the call in logs and errors, e.g. "/customer". */
  path: string;
  /** Headers besides Authorization and Accept, which the core sets. */
  headers?: Record<string, string>;
  body?: string | URLSearchParams | undefined;
  schema: S;
  /** Whether repeating the call after an unclear failure (5xx, no answer) cannot do the thing twice. */
  idempotent: boolean;
  signal?: AbortSignal | undefined;
}

/** Parses Retry-After (delta seconds or an HTTP date) into ms. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Full-jitter exponential backoff: a random delay in [0, min(max, base * 2^attempt)]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.round(random() * Math.min(maxMs, baseMs * 2 ** attempt));
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Outcome<E> = { kind: 'ok'; body: unknown; answer: Answer } | { kind: 'error'; error: E; answered: boolean };

export class HttpCore<E extends ProviderFailure> {
  private readonly tokens: TokenSource;
  private readonly limiter: RateLimiter | undefined;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly logger: Logger | undefined;
  private readonly onCall: CallObserver | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    options: HttpCoreOptions,
    private readonly rules: ProviderRules<E>,
  ) {
    this.tokens = options.tokens;
    this.limiter = options.limiter;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxAttempts = options.retry?.maxAttempts ?? 5;
    this.baseDelayMs = options.retry?.baseDelayMs ?? 500;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 30_000;
    this.maxRetryAfterMs = options.retry?.maxRetryAfterMs ?? 60_000;
    this.logger = options.logger;
    this.onCall = options.onCall;
    this.fetchImpl = options.fetch ?? fetch;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  /** Sends the call until it succeeds or fails for good; the parsed body and the answer it came in. */
  async send<S extends z.ZodType>(req: CoreRequest<S>): Promise<{ data: z.infer<S>; answer: Answer }> {
    const { rules } = this;
    let refreshed = false;
    let token = await this.tokens.accessToken();
    for (let attempt = 0; ; attempt += 1) {
      let outcome: Outcome<E>;
      const release = this.limiter ? await this.limiter.acquire(rules.limiterKey) : undefined;
      const started = performance.now();
      try {
        outcome = await this.attempt(req, token);
      } finally {
        release?.();
      }
      const durationMs = performance.now() - started;
      if (outcome.kind === 'ok') {
        this.onCall?.({ status: outcome.answer.status, durationMs, retrying: false });
        const parsed = req.schema.safeParse(outcome.body);
        if (!parsed.success) {
          const issues = parsed.error.issues
            .slice(0, 5)
            .map((i) => `${i.path.join('.')}: ${i.message}`)
            .join('; ');
          throw rules.unexpectedBody({ method: req.method, path: req.path, answer: outcome.answer, issues });
        }
        return { data: parsed.data, answer: outcome.answer };
      }
      const { error, answered } = outcome;
      if (!refreshed && rules.tokenRejected(error)) {
        refreshed = true;
        this.onCall?.({ status: error.status, durationMs, retrying: true });
        this.logger?.info(
          { ...rules.logFields, path: req.path, ...rules.logDetail?.(error) },
          `${rules.name} access token rejected; refreshing once`,
        );
        token = await this.tokens.refreshAfterUnauthorized();
        continue;
      }
      let retrying = rules.retryable(error, { answered, idempotent: req.idempotent }) && attempt + 1 < this.maxAttempts;
      let delay = 0;
      if (retrying) {
        delay = backoffDelay(attempt, this.baseDelayMs, this.maxDelayMs, this.random);
        if (error.retryAfterMs !== undefined) {
          if (error.retryAfterMs > this.maxRetryAfterMs) retrying = false;
          delay = error.retryAfterMs;
        }
      }
      this.onCall?.({ status: error.status, durationMs, retrying });
      if (!retrying) throw error;
      this.logger?.warn(
        {
          ...rules.logFields,
          path: req.path,
          status: error.status,
          ...rules.logDetail?.(error),
          attempt: attempt + 1,
          delayMs: delay,
        },
        `${rules.name} request failed; retrying`,
      );
      await this.sleep(delay);
    }
  }

  private async attempt(req: CoreRequest<z.ZodType>, token: string): Promise<Outcome<E>> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json', ...req.headers };
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(req.url, { method: req.method, headers, body: req.body, signal });
      text = await response.text();
    } catch (cause) {
      // A caller's own abort is final; our timeout and connection failures are the provider's to judge.
      if (req.signal?.aborted) throw cause;
      const error = this.rules.noAnswer({ timedOut: timeout.aborted, timeoutMs: this.timeoutMs, cause });
      return { kind: 'error', error, answered: false };
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const answer: Answer = {
      status: response.status,
      ok: response.ok,
      headers: response.headers,
      text,
      json,
      receivedAt: Date.now(),
    };
    this.rules.heard?.(answer);
    const reading = this.rules.read(answer);
    return reading.ok
      ? { kind: 'ok', body: reading.body, answer }
      : { kind: 'error', error: reading.error, answered: true };
  }
}
