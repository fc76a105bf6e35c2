// A refused form in plain words, next to its field: each zod issue of a dashboard request becomes { field, message }
// ("amount": "Enter an amount above 0") instead of "body.amount: Too small: expected number to be >0". The page
// puts each message under the input of that name; the API's other clients get the same list.
import type { z } from 'zod';

export interface FieldError {
  /** The input's name in the request: "amount", "mechanism.reviewLink"; "" for the request as a whole. */
  field: string;
  message: string;
}

type Issue = z.core.$ZodIssue;

const number = (n: unknown) => (typeof n === 'bigint' ? n.toString() : String(n));

/** One issue in words a person acts on. */
export function plainMessage(issue: Issue): string {
  switch (issue.code) {
    case 'too_small':
      if (issue.origin === 'string')
        return Number(issue.minimum) <= 1 ? 'Fill this in' : `Use at least ${number(issue.minimum)} characters`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return Number(issue.minimum) <= 1 ? 'Choose at least one' : `Choose at least ${number(issue.minimum)}`;
      return issue.inclusive
        ? `Enter ${number(issue.minimum)} or more`
        : `Enter an amount above ${number(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'string') return `Use at most ${number(issue.maximum)} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `Choose at most ${number(issue.maximum)}`;
      return issue.inclusive ? `Enter ${number(issue.maximum)} or less` : `Enter less than ${number(issue.maximum)}`;
    case 'invalid_type':
      // zod says "received undefined" for a field left out.
      if (/received undefined/.test(issue.message)) return 'Fill this in';
      return issue.expected === 'number' || issue.expected === 'int'
        ? 'Enter a number'
        : issue.expected === 'boolean'
          ? 'Choose yes or no'
          : 'This is not the right kind of value';
    case 'invalid_format':
      if (issue.format === 'email') return 'Enter an email address, like name@example.com';
      if (issue.format === 'url') return 'Enter a web address starting with https://';
      return 'This is not in the expected form';
    case 'invalid_value':
      return issue.values.length <= 6
        ? `Choose one of: ${issue.values.map(String).join(', ')}`
        : 'Choose one of the options offered';
    case 'invalid_union':
      return 'This is not one of the accepted choices';
    case 'unrecognized_keys':
      return `Not a field this form takes: ${issue.keys.join(', ')}`;
    case 'not_multiple_of':
      return `Enter a multiple of ${number(issue.divisor)}`;
    default:
      return issue.message;
  }
}

/** Every issue as a field error, one per field (the first issue of a field says what to fix first). */
export function fieldErrors(issues: readonly Issue[]): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const issue of issues) {
    const field = issue.path.map(String).join('.');
    if (seen.has(field)) continue;
    seen.add(field);
    out.push({ field, message: plainMessage(issue) });
  }
  return out;
}
