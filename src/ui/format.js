// How the dashboard writes amounts: integer minor units in the connection's currency, in the locale of the
// QuickBooks company's country ("$194.40", "194,40 €"). A browser module without dependencies, served beside
// app.js, and imported by the unit tests as it is.

// The language each country's books are usually kept in; the country part is what sets the separators and the
// currency sign's place. A country not listed gets English with its own conventions ("en-" + country).
const LANGUAGE_OF_COUNTRY = {
  FR: 'fr',
  BE: 'fr',
  DE: 'de',
  AT: 'de',
  ES: 'es',
  MX: 'es',
  IT: 'it',
  NL: 'nl',
  BR: 'pt',
  PT: 'pt',
  JP: 'ja',
};

/** A BCP 47 locale for a QuickBooks company's country (CompanyInfo.Country, "US", "CA", "GB"...). */
export function localeForCountry(country) {
  const code = typeof country === 'string' ? country.trim().toUpperCase() : '';
  if (!/^[A-Z]{2}$/.test(code)) return 'en-US';
  const locale = `${LANGUAGE_OF_COUNTRY[code] ?? 'en'}-${code}`;
  try {
    return Intl.NumberFormat.supportedLocalesOf([locale]).length ? locale : 'en-US';
  } catch {
    return 'en-US';
  }
}

/**
 * Minor units -> text for people: formatMoney(19440, 'USD', 'en-US') is "$194.40". `exponent` is the currency's
 * number of minor-unit digits as the server counts them (ISO 4217); by default the one the platform knows.
 * Exact: the integer is split into its major and minor parts as text, never divided as a float.
 */
export function formatMoney(minor, currency, locale = 'en-US', exponent) {
  if (
    minor === null ||
    minor === undefined ||
    !Number.isSafeInteger(minor) ||
    typeof currency !== 'string' ||
    !/^[A-Za-z]{3}$/.test(currency)
  )
    return '—';
  let format;
  try {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase() });
  } catch {
    return `${minor} ${currency}`;
  }
  const digits = exponent ?? format.resolvedOptions().maximumFractionDigits ?? 2;
  const sign = minor < 0 ? '-' : '';
  const text = String(Math.abs(minor)).padStart(digits + 1, '0');
  const decimal = `${sign}${text.slice(0, text.length - digits)}${digits ? `.${text.slice(text.length - digits)}` : ''}`;
  const exact = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: currency.toUpperCase(),
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  // format() takes a decimal string exactly (Intl.NumberFormat v3), so no amount is rounded through a float.
  return exact.format(decimal);
}
