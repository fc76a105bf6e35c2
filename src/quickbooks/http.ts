// QuickBooks' side of the request core (src/http/core.ts): the company URL with minorversion and requestid, the
// Fault envelopes (also inside HTTP 200), which failures are retried and which 401 a new token cures. Everything
// above it (entities, query, batch, CDC) is plain typed calls.
import type { z } from 'zod';
import { QBO_LIMITS } from '../domain/quickbooksLimits.ts';
import {
  HttpCore,
  parseRetryAfter,
  type Answer,
  type AnswerReading,
  type HttpCoreOptions,
  type ProviderRules,
  type QueryValue,
} from '../http/core.ts';
import { QuickBooksError, faultFromBody } from './errors.ts';
import type { RateLimiter } from './limiter.ts';

export {
  backoffDelay,
  parseRetryAfter,
  type QueryValue,
  type RetryOptions,
  type TokenSource,
} from '../http/core.ts';

export const QUICKBOOKS_PRODUCTION_URL = 'https://quickbooks.api.intuit.com';
export const QUICKBOOKS_SANDBOX_URL = 'https://sandbox-quickbooks.api.intuit.com';

export interface QuickBooksHttpOptions extends HttpCoreOptions {
  /** Accounting API host, e.g. QUICKBOOKS_PRODUCTION_URL or an emulator's http://127.0.0.1:port. */
  baseUrl: string;
  realmId: string;
  /** Shared per-realm limiter; without one, requests are not limited client-side. */
  limiter?: RateLimiter | undefined;
  /** Behaves as 75 anyway since 2025-08 (reference §2.2); sent explicitly so responses don't shift under us. */
  minorVersion?: number;
}

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
   * requestid in the same realm (reference §2.4), which makes retrying a write after a timeout safe. Made by
   * quickbooksRequestId (src/domain/requestId.ts) from what the write is for.
   */
  requestId?: string;
  schema: S;
  signal?: AbortSignal;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

// Intuit documents the header as intuit_tid; recordings show Intuit-Tid. Read both.
function readIntuitTid(headers: Headers): string | undefined {
  return headers.get('intuit_tid') ?? headers.get('intuit-tid') ?? undefined;
}

function quickBooksRules(realmId: string): ProviderRules<QuickBooksError> {
  return {
    name: 'quickbooks',
    limiterKey: realmId,
    logFields: { realmId },
    read(answer: Answer): AnswerReading<QuickBooksError> {
      const ctx = {
        status: answer.status,
        intuitTid: readIntuitTid(answer.headers),
        retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), answer.receivedAt),
      };
      // Intuit can send a Fault with HTTP 200 (reference §2.6), so look for one whatever the status.
      const fault = faultFromBody(answer.json, ctx);
      if (fault) return { ok: false, error: fault };
      if (!answer.ok) {
        return {
          ok: false,
          error: new QuickBooksError({
            code: `http_${answer.status}`,
            message: `QuickBooks answered HTTP ${answer.status}`,
            detail: answer.text.slice(0, 300) || undefined,
            ...ctx,
          }),
        };
      }
      if (answer.json === undefined) {
        return {
          ok: false,
          error: new QuickBooksError({
            code: 'invalid_response',
            message: 'QuickBooks answered with a body that is not JSON',
            detail: answer.text.slice(0, 300),
            ...ctx,
          }),
        };
      }
      return { ok: true, body: answer.json };
    },
    noAnswer: ({ timedOut, timeoutMs, cause }) =>
      new QuickBooksError({
        code: timedOut ? 'timeout' : 'network',
        message: timedOut ? `QuickBooks did not answer within ${timeoutMs} ms` : 'Could not reach QuickBooks',
        detail: cause instanceof Error ? cause.message : undefined,
        status: 0,
        cause,
      }),
    unexpectedBody: ({ method, path, answer, issues }) =>
      new QuickBooksError({
        code: 'invalid_response',
        message: `QuickBooks answered ${method} ${path} with a body the client does not understand`,
        detail: issues,
        status: answer.status,
        intuitTid: readIntuitTid(answer.headers),
      }),
    // 401s come in the lowercase fault envelope with code 3200, or bare (http_401).
    tokenRejected: (error) => error.status === 401 && (error.code === '3200' || error.code === 'http_401'),
    // Every QuickBooks call may be repeated: reads change nothing and writes carry a requestid. 3001 is
    // ThrottleExceeded, which older responses sent with statuses other than 429.
    retryable: (error, { answered }) => !answered || RETRYABLE_STATUS.has(error.status) || error.code === '3001',
    logDetail: (error) => ({ code: error.code, intuitTid: error.intuitTid }),
  };
}

export class QuickBooksHttp {
  readonly realmId: string;
  private readonly baseUrl: string;
  private readonly minorVersion: number;
  private readonly core: HttpCore<QuickBooksError>;

  constructor(options: QuickBooksHttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.realmId = options.realmId;
    this.minorVersion = options.minorVersion ?? 75;
    this.core = new HttpCore(options, quickBooksRules(options.realmId));
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
      if (req.requestId.length > QBO_LIMITS.requestId.single) {
        throw new TypeError(
          `QuickBooks requestid is limited to ${QBO_LIMITS.requestId.single} characters; make it with quickbooksRequestId() (src/domain/requestId.ts)`,
        );
      }
    }
    const headers: Record<string, string> = {};
    let body: string | undefined;
    if (req.textBody !== undefined) {
      headers['Content-Type'] = req.textBody.contentType;
      body = req.textBody.text;
    } else if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(req.body);
    }
    const { data, answer } = await this.core.send({
      method: req.method,
      url: this.url(req.path, req.query, req.requestId),
      path: req.path,
      headers,
      body,
      schema: req.schema,
      idempotent: true,
      signal: req.signal,
    });
    return { data, intuitTid: readIntuitTid(answer.headers) };
  }
}
