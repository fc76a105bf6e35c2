// Email normalisation: contacts and customers are matched across the two systems by email, so both sides
// must reduce an address to the same key. HighLevel keeps `emailLowerCase` and matches case-insensitively;
// QuickBooks stores PrimaryEmailAddr.Address as typed. We lowercase the whole address (local part included):
// strictly the local part is case-sensitive (RFC 5321), but no mail provider our users meet treats it so, and
// a missed match creates a duplicate customer, which is the worse failure.

/** Trim, drop surrounding angle brackets and spaces (`" <Jane@X.com> "`), lowercase. */
export function normalizeEmail(raw: string): string {
  let s = raw.normalize('NFC').trim();
  while (s.startsWith('<') && s.endsWith('>') && s.length >= 2) s = s.slice(1, -1).trim();
  if (s.toLowerCase().startsWith('mailto:')) s = s.slice('mailto:'.length).trim();
  return s.toLowerCase();
}

export type EmailCheck =
  | { readonly ok: true; readonly email: string }
  | { readonly ok: false; readonly email: string; readonly reason: string };

// Practical rules (a subset of RFC 5322 that real mailboxes use): one `@`, a local part of at most 64
// characters without spaces or quotes, a domain of dot-separated labels with a dot in it.
const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+$/u;
const DOMAIN_LABEL = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u;

/** Normalise and validate; on failure the reason says what is wrong in words a user understands. */
export function checkEmail(raw: string): EmailCheck {
  const email = normalizeEmail(raw);
  const bad = (reason: string): EmailCheck => ({ ok: false, email, reason });
  if (email === '') return bad('the email address is empty');
  if (email.length > 254) return bad('the email address is longer than 254 characters');
  const at = email.lastIndexOf('@');
  if (at < 0) return bad(`"${email}" has no @`);
  if (email.indexOf('@') !== at) return bad(`"${email}" has more than one @`);
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local === '') return bad(`"${email}" has nothing before the @`);
  if (local.length > 64) return bad(`the part before the @ in "${email}" is longer than 64 characters`);
  if (!LOCAL_PART.test(local))
    return bad(`the part before the @ in "${email}" contains spaces or characters mail servers reject`);
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..'))
    return bad(`"${email}" has a misplaced dot before the @`);
  if (domain === '') return bad(`"${email}" has nothing after the @`);
  const labels = domain.split('.');
  if (labels.length < 2) return bad(`the domain of "${email}" has no dot (e.g. example.com)`);
  if (!labels.every((l) => DOMAIN_LABEL.test(l))) return bad(`the domain of "${email}" is not a valid host name`);
  return { ok: true, email };
}

export function isValidEmail(raw: string): boolean {
  return checkEmail(raw).ok;
}

/** Whether two raw addresses denote the same mailbox for matching purposes. */
export function sameEmail(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a == null || b == null) return false;
  const x = normalizeEmail(a);
  return x !== '' && x === normalizeEmail(b);
}
