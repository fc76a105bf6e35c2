// Types of format.js (a browser module the dashboard serves as it is) for the TypeScript that imports it.
export function localeForCountry(country: string | null | undefined): string;
export function formatMoney(
  minor: number | null | undefined,
  currency: string | null | undefined,
  locale?: string,
  exponent?: number,
): string;
