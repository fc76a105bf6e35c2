import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { fieldErrors } from './fieldErrors.ts';

const form = z
  .object({
    firstName: z.string().trim().min(1).max(5),
    email: z.email(),
    amount: z.number().positive().max(1_000_000),
    channel: z.enum(['SMS', 'Email']),
    link: z.url().optional(),
  })
  .strict();

const errorsOf = (value: unknown) => {
  const result = form.safeParse(value);
  assert.equal(result.success, false);
  return fieldErrors(result.error!.issues);
};

describe('fieldErrors (a refused form in plain words)', () => {
  it("names each field with what to do, never zod's own words", () => {
    assert.deepEqual(errorsOf({ firstName: '', email: 'ada', amount: 0, channel: 'Fax', link: 'nope', extra: 1 }), [
      { field: 'firstName', message: 'Fill this in' },
      { field: 'email', message: 'Enter an email address, like name@example.com' },
      { field: 'amount', message: 'Enter an amount above 0' },
      { field: 'channel', message: 'Choose one of: SMS, Email' },
      { field: 'link', message: 'Enter a web address starting with https://' },
      { field: '', message: 'Not a field this form takes: extra' },
    ]);
  });

  it('says what is missing, too long or too large', () => {
    assert.deepEqual(errorsOf({ firstName: 'Adelaide', amount: 2_000_000, channel: 'SMS' }), [
      { field: 'firstName', message: 'Use at most 5 characters' },
      { field: 'email', message: 'Fill this in' },
      { field: 'amount', message: 'Enter 1000000 or less' },
    ]);
    assert.deepEqual(errorsOf({ firstName: 'Ada', email: 'ada@example.com', amount: '12', channel: 'SMS' }), [
      { field: 'amount', message: 'Enter a number' },
    ]);
  });
});
