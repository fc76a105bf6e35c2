// HighLevel's side of the request core (src/http/core.ts): the per-operation Version header, form or JSON bodies,
// the X-RateLimit-* headers every answer carries (the burst window and the daily budget), HighLevel's error body,
// which failures are retried and which 401 a new token cures.
import type { z } from 'zod';
import {
  HttpCore,
  parseRetryAfter,
  type Answer,
  type AnswerReading,
  type HttpCoreOptions,
  type ProviderRules,
  type QueryValue,
} from '../http/core.ts';
import { HighLevelError, errorBodySchema } from './errors.ts';
import {
  readRateLimitHeaders,
  type DailyBudget,
  type DailyBudgetSource,
  type RateLimitObserver,
  type RateLimiter,
} from './limiter.ts';

export { parseRetryAfter, type QueryValue, type RetryOptions, type TokenSource } from '../http/core.ts';

export const HIGHLEVEL_API_URL = 'https://services.leadconnectorhq.com';

/**
 * HighLevel declares the Version header per operation (reference §1.1): 2021-07-28 for contacts,
 * invoices, payments, locations, workflows, custom fields; 2021-04-15 for conversations.
 */
export const API_VERSION = '2021-07-28';
export const CONVERSATIONS_API_VERSION = '2021-04-15';
export type ApiVersion = typeof API_VERSION | typeof CONVERSATIONS_API_VERSION;

export interface HighLevelHttpOptions extends HttpCoreOptions {
  /** API host: HIGHLEVEL_API_URL, or an emulator's http://127.0.0.1:port. */
  baseUrl?: string;
  /** The location (sub-account) this client acts for; the limiter key. */
  locationId: string;
  /**
   * Shared per-location limiter; when it also implements RateLimitObserver it hears the X-RateLimit-* headers, and
   * DailyBudgetSource, it tells the location's daily budget (dailyBudget()).
   */
  limiter?: HighLevelLimiter | undefined;
}

export type HighLevelLimiter = RateLimiter & Partial<RateLimitObserver> & Partial<DailyBudgetSource>;

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

function highLevelRules(locationId: string, limiter: HighLevelLimiter | undefined): ProviderRules<HighLevelError> {
  return {
    name: 'highlevel',
    limiterKey: locationId,
    logFields: { locationId },
    heard(answer: Answer): void {
      limiter?.observe?.(locationId, readRateLimitHeaders(answer.headers, answer.receivedAt));
    },
    read(answer: Answer): AnswerReading<HighLevelError> {
      // An empty answer reads as {}, so a call whose schema allows it succeeds without a body.
      const json = answer.text === '' ? {} : answer.json;
      if (!answer.ok) {
        const limits = readRateLimitHeaders(answer.headers, answer.receivedAt);
        const parsed = errorBodySchema.safeParse(json);
        const body = parsed.success ? parsed.data : undefined;
        // On 429, Retry-After if sent, else the length of HighLevel's rate window.
        const retryAfterMs =
          parseRetryAfter(answer.headers.get('retry-after'), answer.receivedAt) ??
          (answer.status === 429 ? limits.intervalMs : undefined);
        return {
          ok: false,
          error: new HighLevelError({
            status: answer.status,
            message: body?.message ?? (answer.text.slice(0, 300) || `HighLevel answered HTTP ${answer.status}`),
            // A 429 with no daily budget left is the daily limit, not the burst window: waiting seconds will not cure it.
            code: answer.status === 429 && limits.dailyRemaining === 0 ? 'daily_limit' : body?.error,
            meta: body?.meta,
            traceId: body?.traceId,
            retryAfterMs,
          }),
        };
      }
      if (json === undefined) {
        return {
          ok: false,
          error: new HighLevelError({
            status: answer.status,
            code: 'invalid_response',
            message: 'HighLevel answered with a body that is not JSON',
          }),
        };
      }
      return { ok: true, body: json };
    },
    noAnswer: ({ timedOut, timeoutMs, cause }) =>
      new HighLevelError({
        status: 0,
        code: timedOut ? 'timeout' : 'network',
        message: timedOut
          ? `HighLevel did not answer within ${timeoutMs} ms`
          : `Could not reach HighLevel: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause,
      }),
    unexpectedBody: ({ method, path, answer, issues }) =>
      new HighLevelError({
        status: answer.status,
        code: 'invalid_response',
        message: `HighLevel answered ${method} ${path} with a body the client does not understand: ${issues}`,
      }),
    // HighLevel answers 401 also for a missing scope or a bad Version header, which a new token will not cure.
    tokenRejected: (error) => error.status === 401 && !/scope|version/i.test(error.message),
    retryable: (error, { answered, idempotent }) =>
      (error.status === 429 && error.code !== 'daily_limit') || (idempotent && (!answered || error.status >= 500)),
  };
}

export class HighLevelHttp {
  readonly locationId: string;
  private readonly baseUrl: string;
  private readonly limiter: HighLevelLimiter | undefined;
  private readonly core: HttpCore<HighLevelError>;

  constructor(options: HighLevelHttpOptions) {
    this.baseUrl = (options.baseUrl ?? HIGHLEVEL_API_URL).replace(/\/+$/, '');
    this.locationId = options.locationId;
    this.limiter = options.limiter;
    this.core = new HttpCore(options, highLevelRules(options.locationId, options.limiter));
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
    const headers: Record<string, string> = {};
    if (req.version) headers.Version = req.version;
    let body: string | URLSearchParams | undefined;
    if (req.body instanceof URLSearchParams) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = req.body;
    } else if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(req.body);
    }
    const { data } = await this.core.send({
      method: req.method,
      url: this.url(req.path, req.query),
      path: req.path,
      headers,
      body,
      schema: req.schema,
      idempotent: req.idempotent ?? req.method !== 'POST',
      signal: req.signal,
    });
    return data;
  }
}
