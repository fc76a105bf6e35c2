// Errors are values with a story: which record, which rule, what the user can do.
// Every mapping in this folder returns a Result instead of throwing on bad business data;
// thrown errors are kept for programming mistakes (a negative allocation weight, say).

export interface DomainError {
  /** Stable machine code, e.g. `DOC_NUMBER_TOO_LONG`. */
  readonly code: string;
  /** What went wrong, naming the record and the rule. */
  readonly message: string;
  /** What the user (or the operator) can do about it. */
  readonly fix: string;
  /** The values the message names, for programs (the dashboard) that must not read them back out of the text. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface Failure {
  readonly ok: false;
  readonly error: DomainError;
}

export type Result<T> = { readonly ok: true; readonly value: T } | Failure;

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail(code: string, message: string, fix: string, detail?: Readonly<Record<string, unknown>>): Failure {
  return { ok: false, error: detail ? { code, message, fix, detail } : { code, message, fix } };
}

/** For callers (mostly tests) that have already proved the input valid. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value;
}
