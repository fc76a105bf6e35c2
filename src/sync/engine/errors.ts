// Sync failures as values with a story: which record, which rule, what the provider said, what to do.
// A SyncError is the engine's verdict that trying again unchanged will not help (a person must fix data or
// settings, then press Retry); anything else thrown by a flow is taken as transient and retried with backoff.
export class SyncError extends Error {
  override readonly name = 'SyncError';
  constructor(
    readonly code: string,
    message: string,
    /** What the user can do about it. */
    readonly fix: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The record this job needs is being written by another job: run again shortly (not a failure). */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
  constructor(
    message: string,
    readonly afterSeconds = 2,
  ) {
    super(message);
  }
}

/** A human sentence for any error, without secrets (provider messages never carry tokens). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
