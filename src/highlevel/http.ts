// The request core every HighLevel call goes through: Bearer token, the per-operation Version header,
// the per-location limiter, retries that respect HighLevel's rate-limit headers, timeouts and errors.
import type { Logger } from 'pino';
import type { z } from 'zod';
import { HighLevelError, errorBodySchema } from './errors.ts';
import {
  readRateLimitHeaders,
  type DailyBudget,
  type DailyBudgetSource,
  type RateLimitObserver,
  type RateLimiter,
} from './limiter.ts';

/** Supplies access tokens for one location; the engine keeps them (encrypted) in the store. */
export interface TokenSource {
  accessToken(): Promise<string>;
  /** Called once after a 401 that looks like an expired token; must return a fresh token or throw. */
  refreshAfterUnauthorized(): Promise<string>;
}

export const HIGHLEVEL_API_URL = 'https://services.leadconnectorhq.com';

/**
 * HighLevel declares the Version header per operation (reference §1.1): 2021-07-28 for contacts,
 * invoices, payments, locations, workflows, custom fields; 2021-04-15 for conversations.
 */
export const API_VERSION = '2021-07-28';
export const CONVERSATIONS_API_VERSION = '2021-04-15';
export type ApiVersion = typeof API_VERSION | typeof CONVERSATIONS_API_VERSION;

export interface RetryOptions {
  /** Attempts in total, the first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this is not slept through: the error is thrown with retryAfterMs. */
  maxRetryAfterMs?: number;
}

export interface HighLevelHttpOptions {
  /** API host: HIGHLEVEL_API_URL, or an emulator's http://127.0.0.1:port. */
  baseUrl?: string;
  /** The location (sub-account) this client acts for; the limiter key. */
  locationId: string;
  tokens: TokenSource;
  /**
   * Shared per-location limiter; when it also implements RateLimitObserver it hears the X-RateLimit-* headers, and
   * DailyBudgetSource, it tells the location's daily budget (dailyBudget()).
   */
  limiter?: HighLevelLimiter | undefined;
  timeoutMs?: number;
  retry?: RetryOptions;
  logger?: Logger | undefined;
  /** Hears every attempt (status 0: no answer), for the metrics; `retrying` says the client tries again. */
  onCall?: ((call: { status: number; durationMs: number; retrying: boolean }) => void) | undefined;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export type HighLevelLimiter = RateLimiter & Partial<RateLimitObserver> & Partial<DailyBudgetSource>;

export type QueryValue = string | number | boolean | undefined;

export interface HighLevelRequest<S extends z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  path: string;
  query?: Record<string, QueryValue | readonly string[]>;
  /** JSON body, or a URLSearchParams for the form-encoded OAuth endpoints. */
  body?: unknown;
  version?: ApiVersion | undefined;
  schema: S;
  /**
   * HighLevel has no idempotency key, so a POST that failed with a 5xx or a lost connection may have
   * happened: such requests are retried only when marked idempotent (searches, upserts). A 429 is
   * always retried: HighLevel refused it before doing anything.
   */
  idempotent?: boolean;
  signal?: AbortSignal;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

// A 401 for a missing scope or a bad Version header will not be cured by a new token.
function worthRefreshing(error: HighLevelError): boolean {
  return error.status === 401 && !/scope|version/i.test(error.message);
}

export class HighLevelHttp {
  readonly locationId: string;
  private readonly baseUrl: string;
  private readonly tokens: TokenSource;
  private readonly limiter: HighLevelLimiter | undefined;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly logger: Logger | undefined;
  private readonly onCall: HighLevelHttpOptions['onCall'];
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: HighLevelHttpOptions) {
    this.baseUrl = (options.baseUrl ?? HIGHLEVEL_API_URL).replace(/\/+$/, '');
    this.locationId = options.locationId;
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

  /** What HighLevel last said of this location's daily budget, when the limiter keeps track of it. */
  dailyBudget(): DailyBudget | undefined {
    return this.limiter?.dailyBudget?.(this.locationId);
  }

  url(path: string, query: Record<string, QueryValue | readonly string[]> = {}): URL {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, String(v));
      else url.searchParams.set(key, String(value));
    }
    return url;
  }

  async request<S extends z.ZodType>(req: HighLevelRequest<S>): Promise<z.infer<S>> {
    const url = this.url(req.path, req.query);
    const idempotent = req.idempotent ?? req.method !== 'POST';
    let refreshed = false;
    let token = await this.tokens.accessToken();
    for (let attempt = 0; ; attempt += 1) {
      let outcome: Outcome;
      const release = this.limiter ? await this.limiter.acquire(this.locationId) : undefined;
      const started = performance.now();
      try {
        outcome = await this.attempt(url, req, token);
      } finally {
        release?.();
      }
      const durationMs = performance.now() - started;
      if (outcome.kind === 'ok') {
        this.onCall?.({ status: outcome.status, durationMs, retrying: false });
        const parsed = req.schema.safeParse(outcome.body);
        if (!parsed.success) {
          throw new HighLevelError({
            status: outcome.status,
            code: 'invalid_response',
            message: `HighLevel answered ${req.method} ${req.path} with a body the client does not understand: ${parsed.error.issues
              .slice(0, 5)
              .map((i) => `${i.path.join('.')}: ${i.message}`)
              .join('; ')}`,
          });
        }
        return parsed.data;
      }
      const error = outcome.error;
      if (!refreshed && worthRefreshing(error)) {
        refreshed = true;
        this.onCall?.({ status: error.status, durationMs, retrying: true });
        this.logger?.info(
          { locationId: this.locationId, path: req.path },
          'highlevel access token rejected; refreshing once',
        );
        token = await this.tokens.refreshAfterUnauthorized();
        continue;
      }
      const retryable =
        (error.status === 429 && error.code !== 'daily_limit') ||
        (idempotent && (outcome.kind === 'network' || error.status >= 500));
      let retrying = retryable && attempt + 1 < this.maxAttempts;
      let delay = 0;
      if (retrying) {
        delay = Math.round(this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt));
        if (error.retryAfterMs !== undefined) {
          if (error.retryAfterMs > this.maxRetryAfterMs) retrying = false;
          delay = error.retryAfterMs;
        }
      }
      this.onCall?.({ status: error.status, durationMs, retrying });
      if (!retrying) throw error;
      this.logger?.warn(
        { locationId: this.locationId, path: req.path, status: error.status, attempt: attempt + 1, delayMs: delay },
        'highlevel request failed; retrying',
      );
      await this.sleep(delay);
    }
  }

  private async attempt(url: URL, req: HighLevelRequest<z.ZodType>, token: string): Promise<Outcome> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (req.version) headers.Version = req.version;
    let body: string | URLSearchParams | undefined;
    if (req.body instanceof URLSearchParams) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = req.body;
    } else if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(req.body);
    }
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, { method: req.method, headers, body, signal });
      text = await response.text();
    } catch (cause) {
      if (req.signal?.aborted) throw cause;
      const timedOut = timeout.aborted;
      return {
        kind: 'network',
        error: new HighLevelError({
          status: 0,
          code: timedOut ? 'timeout' : 'network',
          message: timedOut
            ? `HighLevel did not answer within ${this.timeoutMs} ms`
            : `Could not reach HighLevel: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause,
        }),
      };
    }
    const now = Date.now();
    const limits = readRateLimitHeaders(response.headers, now);
    this.limiter?.observe?.(this.locationId, limits);
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const parsed = errorBodySchema.safeParse(json);
      const body = parsed.success ? parsed.data : undefined;
      // On 429, Retry-After if sent, else the length of HighLevel's rate window.
      const retryAfterMs =
        parseRetryAfter(response.headers.get('retry-after'), now) ??
        (response.status === 429 ? limits.intervalMs : undefined);
      return {
        kind: 'error',
        error: new HighLevelError({
          status: response.status,
          message: body?.message ?? (text.slice(0, 300) || `HighLevel answered HTTP ${response.status}`),
          // A 429 with no daily budget left is the daily limit, not the burst window: waiting seconds will not cure it.
          code: response.status === 429 && limits.dailyRemaining === 0 ? 'daily_limit' : body?.error,
          meta: body?.meta,
          traceId: body?.traceId,
          retryAfterMs,
        }),
      };
    }
    if (json === undefined) {
      return {
        kind: 'error',
        error: new HighLevelError({
          status: response.status,
          code: 'invalid_response',
          message: 'HighLevel answered with a body that is not JSON',
        }),
      };
    }
    return { kind: 'ok', body: json, status: response.status };
  }
}

type Outcome =
  | { kind: 'ok'; body: unknown; status: number }
  | { kind: 'error'; error: HighLevelError }
  | { kind: 'network'; error: HighLevelError };
