// What the flows need to know about a QuickBooks company, read once and cached per connection for a while:
// its country (the tax model), home currency, income and deposit accounts, payment methods and tax codes.
import type { QuickBooksClient } from '../../quickbooks/client.ts';
import { select } from '../../quickbooks/query.ts';
import type { QboTaxCodeInfo } from '../../domain/taxCodes.ts';
import type { TaxRegion } from '../../domain/salesLines.ts';
import { isKnownCurrency } from '../../domain/money.ts';
import { SyncError } from '../engine/errors.ts';

export interface CompanyFacts {
  country: string;
  region: TaxRegion;
  homeCurrency: string;
  multiCurrency: boolean;
  /** Income account for the service items ledgerlink creates. */
  incomeAccountId: string;
  /** Undeposited Funds, where sales receipts put the money (QuickBooks' own default). */
  depositAccountId: string | undefined;
  /** The bank account refunds are paid from (RefundReceipt requires one). */
  refundFromAccountId: string | undefined;
  /** paymentMethodKey (visa, mastercard, amex, card, cash, cheque, bank_transfer, other) -> PaymentMethod Id. */
  paymentMethodIds: Record<string, string>;
  /** Global model: active sales tax codes with their rates. */
  taxCodes: QboTaxCodeInfo[];
  /** Global model: the code for untaxed lines (an exempt / zero-rated code). */
  noTaxCodeId: string | undefined;
}

// QuickBooks names payment methods freely; these are the names its companies start with (per country).
const PAYMENT_METHOD_NAMES: Record<string, string[]> = {
  cash: ['cash'],
  cheque: ['check', 'cheque'],
  visa: ['visa'],
  mastercard: ['mastercard', 'master card'],
  amex: ['american express', 'amex'],
  discover: ['discover'],
  diners: ['diners club', 'diners'],
  card: ['credit card', 'card'],
  bank_transfer: ['bank transfer', 'eft', 'direct deposit', 'ach'],
};

export async function loadCompanyFacts(qbo: QuickBooksClient): Promise<CompanyFacts> {
  const [info, preferences] = await Promise.all([qbo.companyInfo(), qbo.preferences()]);
  const country = String(info.Country ?? 'US').toUpperCase();
  const currencyPrefs = (
    preferences as { CurrencyPrefs?: { MultiCurrencyEnabled?: boolean; HomeCurrency?: { value?: string } } }
  ).CurrencyPrefs;
  const accounts = await qbo.query(select('Account').maxResults(1000));
  const income =
    accounts.find((a) => a.AccountType === 'Income' && /^services?$/i.test(String(a.Name))) ??
    accounts.find((a) => a.AccountType === 'Income' && /sales/i.test(String(a.Name))) ??
    accounts.find((a) => a.AccountType === 'Income');
  if (!income) {
    throw new SyncError(
      'no-income-account',
      'The QuickBooks company has no income account',
      'Create an income account in QuickBooks (Chart of accounts), then Retry',
    );
  }
  const undeposited = accounts.find(
    (a) => a.AccountSubType === 'UndepositedFunds' || /undeposited funds/i.test(String(a.Name)),
  );
  const bank = accounts.find((a) => a.AccountType === 'Bank' && a.Active !== false);
  const methods = await qbo.query(select('PaymentMethod').maxResults(1000));
  const paymentMethodIds: Record<string, string> = {};
  for (const [key, names] of Object.entries(PAYMENT_METHOD_NAMES)) {
    const method = methods.find((m) => names.includes(String(m.Name).trim().toLowerCase()));
    if (method) paymentMethodIds[key] = method.Id;
  }
  const region: TaxRegion = country === 'US' ? 'US' : 'global';
  let taxCodes: QboTaxCodeInfo[] = [];
  let noTaxCodeId: string | undefined;
  if (region === 'global') {
    const [codes, rates] = await Promise.all([
      qbo.query(select('TaxCode').maxResults(1000)),
      qbo.query(select('TaxRate').maxResults(1000)),
    ]);
    const rateById = new Map(rates.map((r) => [r.Id, r.RateValue ?? 0]));
    taxCodes = codes
      .filter((c) => c.Active !== false)
      .map((c) => {
        const details =
          (c.SalesTaxRateList as { TaxRateDetail?: Array<{ TaxRateRef?: { value?: string } }> } | undefined)
            ?.TaxRateDetail ?? [];
        return {
          id: c.Id,
          name: String(c.Name),
          ratePercents: details.map((d) => rateById.get(d.TaxRateRef?.value ?? '') ?? 0),
          active: true,
        };
      });
    const zero = taxCodes.filter((c) => c.ratePercents.every((r) => Number(r) === 0));
    noTaxCodeId = (zero.find((c) => /exempt|zero|out of scope|no vat|non/i.test(c.name)) ?? zero[0])?.id;
  }
  return {
    country,
    region,
    homeCurrency: currencyPrefs?.HomeCurrency?.value ?? String((info as { Currency?: string }).Currency ?? 'USD'),
    multiCurrency: currencyPrefs?.MultiCurrencyEnabled ?? false,
    incomeAccountId: income.Id,
    depositAccountId: undeposited?.Id,
    refundFromAccountId: bank?.Id,
    paymentMethodIds,
    taxCodes,
    noTaxCodeId,
  };
}

/**
 * Why a document in `currency` cannot be written to this company, or undefined when it can. A code that is no
 * currency at all (XYZ) and a real currency the company has not enabled need different fixes: multicurrency
 * cannot make QuickBooks accept XYZ, so that advice is given only for the second.
 */
export function currencyProblem(
  company: CompanyFacts,
  currency: string,
  document: string,
  detail: Record<string, unknown>,
): SyncError | undefined {
  if (!isKnownCurrency(currency)) {
    return new SyncError(
      'currency-unknown',
      `${document} is in ${currency}, which is not a currency QuickBooks knows (not an ISO 4217 code)`,
      `Correct the currency in HighLevel (the payment's product price or the location's currency settings); QuickBooks cannot record ${currency}, whatever its settings. Then press Retry, or leave this error if the record was a test`,
      { ...detail, currency, homeCurrency: company.homeCurrency },
    );
  }
  if (currency !== company.homeCurrency && !company.multiCurrency) {
    return new SyncError(
      'currency-not-accepted',
      `${document} is in ${currency}, but the QuickBooks company works in ${company.homeCurrency} only (multicurrency is off)`,
      'Turn on multicurrency in QuickBooks (Account and settings > Advanced > Currency), then press Retry',
      { ...detail, currency, homeCurrency: company.homeCurrency },
    );
  }
  return undefined;
}
