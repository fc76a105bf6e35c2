// HighLevel amounts are decimals in major units (999 = $999.00; 12.1 = $12.10) on invoices, orders,
// transactions and subscriptions, and its spec examples sometimes send them as strings. The parsed
// types keep a plain number; exact conversion to minor units goes through src/domain/money.
import { z } from 'zod';
import { toMinorUnits, type Minor } from '../domain/money.ts';
import type { Result } from '../domain/result.ts';

const NUMERIC = /^-?\d+(\.\d+)?$/;

/** A major-unit amount: a JSON number, or a numeric string read as the same number. */
export const amountSchema = z.union([z.number(), z.string().trim().regex(NUMERIC).transform(Number)]);

/**
 * Minor units of a HighLevel amount, exactly (12.1 USD -> 1210). A JSON number is read through its
 * shortest decimal text, which is what HighLevel wrote, so no float arithmetic is involved.
 */
export function amountInMinorUnits(amount: number, currency: string, what = 'amount'): Result<Minor> {
  return toMinorUnits(amount, currency, { what });
}
