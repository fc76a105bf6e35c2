// QuickBooks writes timestamps in the company's local offset (e.g. 2020-09-29T05:58:16-07:00); the response
// envelope's `time` carries milliseconds. Offsets here are fixed per company (no daylight saving), an assumption.

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function offsetText(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** ISO timestamp in the company offset; withMillis for the envelope's `time`. */
export function companyTimestamp(epochMs: number, offsetMinutes: number, withMillis = false): string {
  const local = new Date(epochMs + offsetMinutes * 60_000);
  const base =
    `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  return `${base}${withMillis ? `.${pad(local.getUTCMilliseconds(), 3)}` : ''}${offsetText(offsetMinutes)}`;
}

/** The company's local calendar date (TxnDate default). */
export function companyDate(epochMs: number, offsetMinutes: number): string {
  return companyTimestamp(epochMs, offsetMinutes).slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Parses an ISO date or datetime (with or without offset) as QuickBooks accepts in queries and CDC. */
export function parseTimestamp(text: string, offsetMinutes: number): number | undefined {
  const trimmed = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(trimmed)) {
    const ms = Date.parse(`${trimmed}T00:00:00Z`);
    return Number.isNaN(ms) ? undefined : ms - offsetMinutes * 60_000;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(trimmed)) return undefined;
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(trimmed);
  const ms = Date.parse(hasZone ? trimmed.replace(/([+-]\d{2})(\d{2})$/, '$1:$2') : `${trimmed}Z`);
  if (Number.isNaN(ms)) return undefined;
  return hasZone ? ms : ms - offsetMinutes * 60_000;
}
