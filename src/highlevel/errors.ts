// HighLevel errors as values. HighLevel answers {statusCode, message, error?, meta?}, where message is a
// string or, for validation (422), an array of strings, and meta carries specifics such as the
// contactId of the duplicate that blocked a create.
import { z } from 'zod';

export const errorBodySchema = z.looseObject({
  statusCode: z.number().optional(),
  message: z.union([z.string(), z.array(z.string())]).optional(),
  error: z.string().optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  traceId: z.string().optional(),
});

export interface HighLevelErrorInit {
  status: number;
  message: string | string[];
  /**
   * Client-side code when no HTTP answer explains it: "network", "timeout", "invalid_response", "daily_limit" (the
   * location's daily budget is used up: refused by the limiter, or a 429 whose X-RateLimit-Daily-Remaining is 0).
   */
  code?: string | undefined;
  meta?: Record<string, unknown> | undefined;
  traceId?: string | undefined;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

export class HighLevelError extends Error {
  override readonly name = 'HighLevelError';
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  /** HighLevel's message as sent: a string, or the list of validation messages. */
  readonly messages: string | string[];
  readonly code: string | undefined;
  readonly meta: Record<string, unknown> | undefined;
  readonly traceId: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(init: HighLevelErrorInit) {
    super(Array.isArray(init.message) ? init.message.join('; ') : init.message, { cause: init.cause });
    this.status = init.status;
    this.messages = init.message;
    this.code = init.code;
    this.meta = init.meta;
    this.traceId = init.traceId;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** For a refused duplicate contact create: the contact that already holds the email or phone. */
  get duplicateContactId(): string | undefined {
    const id = this.meta?.contactId;
    return typeof id === 'string' ? id : undefined;
  }
}

/** 400 "This location does not allow duplicated contacts." with meta.contactId (and matchingField). */
export function isDuplicateContact(e: unknown): e is HighLevelError & { duplicateContactId: string } {
  return e instanceof HighLevelError && e.status === 400 && e.duplicateContactId !== undefined;
}
export function isRateLimited(e: unknown): e is HighLevelError {
  return e instanceof HighLevelError && (e.status === 429 || e.code === 'daily_limit');
}
export function isNotFound(e: unknown): e is HighLevelError {
  return e instanceof HighLevelError && e.status === 404;
}
/** HighLevel answers 401 both for bad tokens and for missing scopes ("not authorized for this scope"). */
export function isScopeMissing(e: unknown): e is HighLevelError {
  return e instanceof HighLevelError && e.status === 401 && /scope/i.test(e.message);
}
