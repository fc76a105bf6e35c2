import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkEmail, normalizeEmail, sameEmail } from './email.ts';

describe('email normalisation', () => {
  it('matches "Jane.Doe@Example.com " with "jane.doe@example.com"', () => {
    assert.equal(normalizeEmail('Jane.Doe@Example.com '), 'jane.doe@example.com');
    assert.ok(sameEmail('Jane.Doe@Example.com ', 'jane.doe@example.com'));
  });
  it('strips surrounding angle brackets, spaces and a mailto: prefix', () => {
    assert.equal(normalizeEmail('  <Jane@X.com>  '), 'jane@x.com');
    assert.equal(normalizeEmail('< jane@x.com >'), 'jane@x.com');
    assert.equal(normalizeEmail('mailto:Jane@X.com'), 'jane@x.com');
  });
  it('never matches empty or missing addresses', () => {
    assert.equal(sameEmail('', ''), false);
    assert.equal(sameEmail(null, 'a@b.co'), false);
  });
});

describe('email validity, with a reason', () => {
  const valid = ['jane@example.com', "o'brien@example.ie", 'a+tag@sub.example.co.uk', 'x@münchen.de'];
  for (const email of valid) {
    it(`accepts ${email}`, () => assert.equal(checkEmail(email).ok, true));
  }
  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['jane.example.com', /no @/],
    ['jane@@example.com', /more than one @/],
    ['@example.com', /nothing before/],
    ['jane@', /nothing after/],
    ['jane@localhost', /no dot/],
    ['ja ne@example.com', /characters/],
    ['jane..doe@example.com', /misplaced dot/],
    ['jane@-example.com', /not a valid host/],
    [`${'a'.repeat(65)}@example.com`, /64/],
  ];
  for (const [email, reason] of invalid) {
    it(`refuses ${JSON.stringify(email)} saying ${reason}`, () => {
      const r = checkEmail(email);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.reason, reason);
    });
  }
});
