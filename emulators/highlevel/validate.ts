import type { z } from 'zod';
import { validationError } from './errors.ts';

/** Parses a request body or query at the edge; failures answer 422 with a message array, as HighLevel does. */
export function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw validationError(result.error, input);
  return result.data;
}
