// The request core every QuickBooks call goes through: auth, requestid, minorversion, limiter, retries,
// timeouts and Fault parsing. Everything above it (entities, query, batch, CDC) is plain typed calls.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { QuickBooksError, faultFromBody } from './errors.ts';
import type { RateLimiter } from './limiter.ts';

/** Supplies access tokens for one realm; the engine keeps them (encrypted) in the store. */
export interface TokenSource {
  accessToken(): Promise<string>;
  /** Called once after a 401 (code 3200); must return a fresh access token or throw. */
  refreshAfterUnauthorized(): Promise<string>;
}

export const QUICKBOOKS_PRODUCTION_URL = 'https://quickbooks.api.intuit.com';
export const QUICKBOOKS_SANDBOX_URL = 'https://sandbox-quickbooks.api.intuit.com';

export interface RetryOptions {
  /** Attempts in total, the first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this is not slept through: the error is thrown with retryAfterMs for the job queue. */
  maxRetryAfterMs?: number;
}

export interface QuickBooksHttpOptions {
  /** Accounting API host, e.g. QUICKBOOKS_PRODUCTION_URL or an emulator's http://127.0.0.1:port. */
  baseUrl: string;
  realmId: string;
  tokens: TokenSource;
  /** Shared per-realm limiter; without one, requests are not limited client-side. */
  limiter?: RateLimiter | undefined;
  /** Behaves as 75 anyway since 2025-08 (reference §2.2); sent explicitly so responses don't shift under us. */
  minorVersion?: number;
  timeoutMs?: number;
  retry?: RetryOptions;
  logger?: Logger | undefined;
  /** Hears every attempt (status 0: no answer), for the metrics; `retrying` says the client tries again. */
  onCall?: ((call: { status: number; durationMs: number; retrying: boolean }) => void) | undefined;
  fetch?: typeof fetch;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export type QueryValue = string | number | boolean | undefined;

export interface QuickBooksRequest<S extends z.ZodType> {
  method: 'GET' | 'POST';
  /** Path below /v3/company/{realmId}, e.g. "/customer" or "/query". */
  path: string;
  query?: Record<string, QueryValue>;
  /** JSON body, or raw text with its content type (a query sent as application/text). */
  body?: unknown;
  textBody?: { contentType: string; text: string };
  /** A POST that changes nothing (a long query sent by POST) needs no requestid. */
  readOnly?: boolean;
  /**
   * Idempotency key, required on every POST that writes: QuickBooks replays the first answer for a repeated
   * requestid in the same realm (reference §2.4), which makes retrying a write after a timeout safe.
   */
  requestId?: string;
  schema: S;
  signal?: AbortSignal;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_REQUEST_ID_LENGTH = 50;

/**
 * A deterministic request id (UUID-shaped, 36 chars, so it also fits batch's limit) from the parts that
 * identify one write, e.g. (connection, flow, source id, source version).
 */
export function deriveRequestId(...parts: Array<string | number>): string {
  const hex = createHash('sha256').update(parts.map(String).join('\u001f')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
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

// Intuit documents the header as intuit_tid; recordings show Intuit-Tid. Read both.
function readIntuitTid(headers: Headers): string | undefined {
  return headers.get('intuit_tid') ?? headers.get('intuit-tid') ?? undefined;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class QuickBooksHttp {
  readonly realmId: string;
  private readonly baseUrl: string;
  private readonly tokens: TokenSource;
  private readonly limiter: RateLimiter | undefined;
  private readonly minorVersion: number;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly logger: Logger | undefined;
  private readonly onCall: QuickBooksHttpOptions['onCall'];
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: QuickBooksHttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.realmId = options.realmId;
    this.tokens = options.tokens;
    this.limiter = options.limiter;
    this.minorVersion = options.minorVersion ?? 75;
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

  url(path: string, query: Record<string, QueryValue> = {}, requestId?: string): URL {
    const url = new URL(`${this.baseUrl}/v3/company/${encodeURIComponent(this.realmId)}${path}`);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    if (requestId !== undefined) url.searchParams.set('requestid', requestId);
    url.searchParams.set('minorversion', String(this.minorVersion));
    return url;
  }

  async request<S extends z.ZodType>(req: QuickBooksRequest<S>): Promise<z.infer<S>> {
    return (await this.send(req)).data;
  }

  /** Like request(), also giving the intuit_tid of the answer (for batch items and logs). */
  async send<S extends z.ZodType>(
    req: QuickBooksRequest<S>,
  ): Promise<{ data: z.infer<S>; intuitTid: string | undefined }> {
    if (req.method === 'POST' && !req.readOnly) {
      if (req.requestId === undefined || req.requestId === '') {
        throw new TypeError(`QuickBooks write ${req.path} needs a requestId so a retry cannot create a second object`);
      }
      if (req.requestId.length > MAX_REQUEST_ID_LENGTH) {
        throw new TypeError(
          `QuickBooks requestid is limited to ${MAX_REQUEST_ID_LENGTH} characters; use deriveRequestId()`,
        );
      }
    }
    const url = this.url(req.path, req.query, req.requestId);
    let refreshed = false;
    let token = await this.tokens.accessToken();
    for (let attempt = 0; ; attempt += 1) {
      let outcome: Outcome;
      const release = this.limiter ? await this.limiter.acquire(this.realmId) : undefined;
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
          throw new QuickBooksError({
            code: 'invalid_response',
            message: `QuickBooks answered ${req.method} ${req.path} with a body the client does not understand`,
            detail: parsed.error.issues
              .slice(0, 5)
              .map((i) => `${i.path.join('.')}: ${i.message}`)
              .join('; '),
            status: outcome.status,
            intuitTid: outcome.intuitTid,
          });
        }
        return { data: parsed.data, intuitTid: outcome.intuitTid };
      }
      const error = outcome.error;
      if (error.status === 401 && !refreshed && (error.code === '3200' || error.code === 'http_401')) {
        refreshed = true;
        this.onCall?.({ status: error.status, durationMs, retrying: true });
        this.logger?.info(
          { realmId: this.realmId, intuitTid: error.intuitTid },
          'quickbooks access token rejected; refreshing once',
        );
        token = await this.tokens.refreshAfterUnauthorized();
        continue;
      }
      const retryable = outcome.kind === 'network' || RETRYABLE_STATUS.has(error.status) || error.code === '3001';
      let retrying = retryable && attempt + 1 < this.maxAttempts;
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
          realmId: this.realmId,
          path: req.path,
          status: error.status,
          code: error.code,
          intuitTid: error.intuitTid,
          attempt: attempt + 1,
          delayMs: delay,
        },
        'quickbooks request failed; retrying',
      );
      await this.sleep(delay);
    }
  }

  private async attempt(url: URL, req: QuickBooksRequest<z.ZodType>, token: string): Promise<Outcome> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    let body: string | undefined;
    if (req.textBody !== undefined) {
      headers['Content-Type'] = req.textBody.contentType;
      body = req.textBody.text;
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
      // A caller's own abort is final; our timeout and connection failures are retried.
      if (req.signal?.aborted) throw cause;
      const timedOut = timeout.aborted;
      return {
        kind: 'network',
        error: new QuickBooksError({
          code: timedOut ? 'timeout' : 'network',
          message: timedOut ? `QuickBooks did not answer within ${this.timeoutMs} ms` : 'Could not reach QuickBooks',
          detail: cause instanceof Error ? cause.message : undefined,
          status: 0,
          cause,
        }),
      };
    }
    const intuitTid = readIntuitTid(response.headers);
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const ctx = { status: response.status, intuitTid, retryAfterMs };
    // Intuit can send a Fault with HTTP 200 (reference §2.6), so look for one whatever the status.
    const fault = faultFromBody(json, ctx);
    if (fault) return { kind: 'error', error: fault };
    if (!response.ok) {
      return {
        kind: 'error',
        error: new QuickBooksError({
          code: `http_${response.status}`,
          message: `QuickBooks answered HTTP ${response.status}`,
          detail: text.slice(0, 300) || undefined,
          ...ctx,
        }),
      };
    }
    if (json === undefined) {
      return {
        kind: 'error',
        error: new QuickBooksError({
          code: 'invalid_response',
          message: 'QuickBooks answered with a body that is not JSON',
          detail: text.slice(0, 300),
          ...ctx,
        }),
      };
    }
    return { kind: 'ok', body: json, status: response.status, intuitTid };
  }
}

type Outcome =
  | { kind: 'ok'; body: unknown; status: number; intuitTid: string | undefined }
  | { kind: 'error'; error: QuickBooksError }
  | { kind: 'network'; error: QuickBooksError };
