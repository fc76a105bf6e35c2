// Header fields shared by the QuickBooks sales forms we write: dates, document numbers, notes, emails.

import { checkEmail } from './email.ts';
import { QBO_LIMITS } from './quickbooksLimits.ts';
import { fail, ok, type Result } from './result.ts';
import { truncateText } from './textLimits.ts';

/**
 * A QuickBooks TxnDate (YYYY-MM-DD) from a HighLevel date. HighLevel writes `issueDate` as YYYY-MM-DD and
 * timestamps as ISO strings; we take the calendar date as written (no time-zone conversion, because the
 * HighLevel location's zone is what the user saw on the document).
 */
export function qboDate(value: string | null | undefined, what: string, label: string): Result<string> {
  const m = value == null ? null : /^(\d{4})-(\d{2})-(\d{2})/.exec(value.trim());
  if (!m) return fail('INVALID_DATE', `${label}: ${what} "${value ?? ''}" is not a date`, `Set ${what} in HighLevel.`);
  const [, y, mo, d] = m;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (date.getUTCFullYear() !== Number(y) || date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) {
    return fail(
      'INVALID_DATE',
      `${label}: ${what} "${value ?? ''}" is not a calendar date`,
      `Fix ${what} in HighLevel.`,
    );
  }
  return ok(`${y}-${mo}-${d}`);
}

export type TooLong = 'error' | 'truncate';

/**
 * DocNumber (QuickBooks: at most 21 characters). Over the limit is an error unless the connection chose
 * `truncate`, which keeps the last 21 characters (the distinctive end of a number) and says so.
 */
export function qboDocNumber(
  value: string | number | null | undefined,
  label: string,
  onTooLong: TooLong = 'error',
): Result<{ docNumber: string | undefined; warning?: string }> {
  if (value == null) return ok({ docNumber: undefined });
  const text = String(value).trim();
  if (text === '') return ok({ docNumber: undefined });
  const max = QBO_LIMITS.transaction.DocNumber;
  if (text.length <= max) return ok({ docNumber: text });
  if (onTooLong === 'truncate') {
    const cut = [...text].slice(-max).join('');
    return ok({
      docNumber: cut,
      warning: `${label}: number "${text}" shortened to "${cut}" (QuickBooks allows ${max} characters)`,
    });
  }
  return fail(
    'DOC_NUMBER_TOO_LONG',
    `${label}: number "${text}" has ${text.length} characters; QuickBooks allows ${max}`,
    `Use a shorter number (or prefix) in HighLevel, or allow shortened numbers in the connection settings.`,
  );
}

export function privateNote(text: string): string {
  return truncateText(text, QBO_LIMITS.transaction.PrivateNote);
}

/** A BillEmail for QuickBooks, or a warning when the address would be refused. */
export function billEmail(raw: string | null | undefined): { email?: string; warning?: string } {
  if (raw == null || raw.trim() === '') return {};
  const check = checkEmail(raw);
  if (!check.ok) return { warning: `BillEmail left out: ${check.reason}` };
  if (check.email.length > QBO_LIMITS.customer.PrimaryEmailAddress)
    return { warning: `BillEmail left out: longer than ${QBO_LIMITS.customer.PrimaryEmailAddress} characters` };
  return { email: check.email };
}
