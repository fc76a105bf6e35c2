// QuickBooks errors as values: every failure the client surfaces is a QuickBooksError carrying what
// Intuit said (code, message, detail), the HTTP status and the intuit_tid to quote to Intuit support.
import { z } from 'zod';

const faultErrorSchema = z.looseObject({
  Message: z.string().optional(),
  Detail: z.string().optional(),
  code: z.union([z.string(), z.number()]).optional(),
  element: z.string().nullable().optional(),
});

/** The documented `Fault` shape (400s, throttling, and faults inside HTTP 200 and batch items). */
export const faultSchema = z.looseObject({
  Error: z.array(faultErrorSchema).default([]),
  type: z.string().optional(),
});

// 401 responses use a different, lowercase envelope (recorded traffic, reference §2.6).
const lowercaseFaultSchema = z.looseObject({
  error: z
    .array(
      z.looseObject({
        message: z.string().optional(),
        detail: z.string().optional(),
        code: z.union([z.string(), z.number()]).optional(),
      }),
    )
    .default([]),
  type: z.string().optional(),
});

export type Fault = z.infer<typeof faultSchema>;

export interface QuickBooksErrorInit {
  code: string;
  message: string;
  detail?: string | undefined;
  status: number;
  intuitTid?: string | undefined;
  faultType?: string | undefined;
  element?: string | undefined;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

export class QuickBooksError extends Error {
  override readonly name = 'QuickBooksError';
  /** Intuit's error code as a string ("5010", "6240", "3200"...) or a client-side code ("network", "timeout", "invalid_response", "http_404"). */
  readonly code: string;
  readonly detail: string | undefined;
  /** HTTP status; 0 when no response arrived. A Fault inside a 200 keeps 200. */
  readonly status: number;
  readonly intuitTid: string | undefined;
  readonly faultType: string | undefined;
  readonly element: string | undefined;
  /** How long the server asked us to wait, when it said so. */
  readonly retryAfterMs: number | undefined;

  constructor(init: QuickBooksErrorInit) {
    // message is Intuit's Message verbatim; detail (which names the record and the rule) stays separate.
    super(init.message, { cause: init.cause });
    this.code = init.code;
    this.detail = init.detail;
    this.status = init.status;
    this.intuitTid = init.intuitTid;
    this.faultType = init.faultType;
    this.element = init.element;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** One line for logs and the activity feed: message, detail, code and transaction id. */
  describe(): string {
    const parts = [`QuickBooks ${this.code}: ${this.message}`];
    if (this.detail) parts.push(this.detail);
    if (this.intuitTid) parts.push(`intuit_tid=${this.intuitTid}`);
    return parts.join(' | ');
  }
}

/** 5010: the SyncToken we sent is older than the stored one; re-read and re-apply. */
export function isStaleObject(e: unknown): e is QuickBooksError {
  return e instanceof QuickBooksError && e.code === '5010';
}
/** 6240: DisplayName (shared by Customer, Vendor, Employee, inactive ones included) or Item name taken. */
export function isDuplicateName(e: unknown): e is QuickBooksError {
  return e instanceof QuickBooksError && e.code === '6240';
}
/** 610: unknown id, or a reference to an inactive name-list object. Only this code means "not there". */
export function isNotFound(e: unknown): e is QuickBooksError {
  return e instanceof QuickBooksError && e.code === '610';
}
/** The read's answer, or undefined where QuickBooks says the object is not there (610); other errors are thrown. */
export async function unlessNotFound<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
/**
 * 2030 "Invalid ID": the id is not a QuickBooks id at all (GET customer/1.5, VCR minimul/qbo_api
 * spec/vcr/error/500.yml). It says nothing about whether a record was deleted, so it must never be read as 610.
 */
export function isInvalidId(e: unknown): e is QuickBooksError {
  return e instanceof QuickBooksError && e.code === '2030';
}
/** 429 or Fault code 3001 (ThrottleExceeded), which older responses sent with other statuses. */
export function isThrottled(e: unknown): e is QuickBooksError {
  return e instanceof QuickBooksError && (e.status === 429 || e.code === '3001');
}
/** 401 / 3200: the access token expired or was revoked. */
export function isAuthenticationFailure(e: unknown): e is QuickBooksError {
  return e instanceof QuickBooksError && (e.status === 401 || e.code === '3200');
}

export interface FaultContext {
  status: number;
  intuitTid?: string | undefined;
  retryAfterMs?: number | undefined;
}

/** Builds an error from a parsed `Fault` object (also used for batch items). */
export function errorFromFault(fault: Fault, ctx: FaultContext): QuickBooksError {
  const first = fault.Error[0];
  return new QuickBooksError({
    code: first?.code === undefined ? `http_${ctx.status}` : String(first.code),
    message: first?.Message ?? 'QuickBooks returned a Fault without a message',
    detail: first?.Detail,
    element: first?.element ?? undefined,
    faultType: fault.type,
    status: ctx.status,
    intuitTid: ctx.intuitTid,
    retryAfterMs: ctx.retryAfterMs,
  });
}

/**
 * Reads a Fault from any response body, in either envelope: `{"Fault":{...}}` or the lowercase 401
 * `{"fault":{"error":[...]}}`. Returns undefined when the body holds no fault.
 */
export function faultFromBody(body: unknown, ctx: FaultContext): QuickBooksError | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  if ('Fault' in body) {
    const parsed = faultSchema.safeParse(body.Fault);
    if (parsed.success) return errorFromFault(parsed.data, ctx);
  }
  if ('fault' in body) {
    const parsed = lowercaseFaultSchema.safeParse(body.fault);
    if (parsed.success) {
      const first = parsed.data.error[0];
      return new QuickBooksError({
        code: first?.code === undefined ? `http_${ctx.status}` : String(first.code),
        message: first?.message ?? 'QuickBooks authentication failed',
        detail: first?.detail,
        faultType: parsed.data.type,
        status: ctx.status,
        intuitTid: ctx.intuitTid,
        retryAfterMs: ctx.retryAfterMs,
      });
    }
  }
  return undefined;
}
