// HighLevel's error bodies (common/common-schemas.json: BadRequestDTO, UnauthorizedDTO, UnprocessableDTO):
// NestJS-style `{statusCode, message, error?}`; validation failures carry `message` as an array of strings.
import type { ZodError } from 'zod';

export class HighLevelError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${statusCode}`);
  }
}

export function badRequest(message = 'Bad Request', extra: Record<string, unknown> = {}): HighLevelError {
  return new HighLevelError(400, { statusCode: 400, message, ...extra });
}

export function unauthorized(message: string): HighLevelError {
  return new HighLevelError(401, { statusCode: 401, message, error: 'Unauthorized' });
}

export function forbidden(message: string): HighLevelError {
  return new HighLevelError(403, { statusCode: 403, message, error: 'Forbidden' });
}

export function notFound(message: string): HighLevelError {
  return new HighLevelError(404, { statusCode: 404, message, error: 'Not Found' });
}

export function unprocessable(messages: string[]): HighLevelError {
  return new HighLevelError(422, { statusCode: 422, message: messages, error: 'Unprocessable Entity' });
}

function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let node: unknown = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** Turns zod issues into class-validator-like sentences ("email must be an email"), which is what HighLevel's NestJS answers with. */
export function validationError(error: ZodError, input?: unknown): HighLevelError {
  const messages = error.issues.flatMap((issue) => {
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
    switch (issue.code) {
      case 'unrecognized_keys':
        return issue.keys.map((key) => `property ${issue.path.length > 0 ? `${field}.` : ''}${key} should not exist`);
      case 'invalid_type': {
        const received = valueAt(input, issue.path);
        if (received === undefined || received === null || received === '') return [`${field} should not be empty`];
        return [
          `${field} must be ${issue.expected === 'object' ? 'an object' : issue.expected === 'array' ? 'an array' : `a ${issue.expected}`}`,
        ];
      }
      case 'invalid_format':
        return [issue.format === 'email' ? `${field} must be an email` : `${field} must match ${issue.format} format`];
      case 'invalid_value':
        return [`${field} must be one of the following values: ${issue.values.map(String).join(', ')}`];
      case 'too_small':
        return [`${field} must not be less than ${String(issue.minimum)}`];
      case 'too_big':
        return [`${field} must not be greater than ${String(issue.maximum)}`];
      default:
        return [`${field} ${issue.message}`];
    }
  });
  return unprocessable(messages);
}

export const INVALID_TOKEN = 'Invalid token: access token is invalid';
export const SCOPE_MISSING = 'The token is not authorized for this scope.';
export const VERSION_MISSING = 'version header was not found.';
export const VERSION_INVALID = 'version header is invalid';
export const LOCATION_FORBIDDEN = 'The token does not have access to this location.';
