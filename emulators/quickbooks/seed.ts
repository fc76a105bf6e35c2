// What a new sandbox company starts with: a small chart of accounts (an income account, Undeposited Funds,
// A/R...), a few payment methods, and tax codes/rates fitting its country (US: TAX/NON pseudo codes plus one
// sales-tax code; CA: GST/HST/PST; GB: VAT; AU: GST), then CompanyInfo and Preferences.
import type { Company, CompanySettings, Country, EntityName } from './company.ts';
import type { Rec } from './json.ts';
import { DEFAULT_ITEM_NAME } from './entities/salesForms.ts';
import { addSampleData } from './sampleData.ts';
import { companyDate, companyTimestamp } from './time.ts';

export const currencyNames: Record<string, string> = {
  USD: 'United States Dollar',
  CAD: 'Canadian Dollar',
  GBP: 'British Pound Sterling',
  AUD: 'Australian Dollar',
  EUR: 'Euro',
  NZD: 'New Zealand Dollar',
  INR: 'Indian Rupee',
  MXN: 'Mexican Peso',
  JPY: 'Japanese Yen',
};

export const countryDefaults: Record<
  Country,
  { currency: string; offsetMinutes: number; locale: string; timeZone: string }
> = {
  US: { currency: 'USD', offsetMinutes: -7 * 60, locale: 'en_US', timeZone: 'America/Los_Angeles' },
  CA: { currency: 'CAD', offsetMinutes: -5 * 60, locale: 'en_CA', timeZone: 'America/Toronto' },
  GB: { currency: 'GBP', offsetMinutes: 0, locale: 'en_GB', timeZone: 'Europe/London' },
  AU: { currency: 'AUD', offsetMinutes: 10 * 60, locale: 'en_AU', timeZone: 'Australia/Sydney' },
};

interface TaxSetup {
  rates: Array<{ name: string; percent: number; agency: string }>;
  /** codes: name -> indexes into rates */
  codes: Array<{ name: string; description: string; rates: number[]; taxable: boolean }>;
}

const taxSetups: Record<Exclude<Country, 'US'>, TaxSetup> = {
  CA: {
    rates: [
      { name: 'GST', percent: 5, agency: 'Canada Revenue Agency' },
      { name: 'HST ON', percent: 13, agency: 'Canada Revenue Agency' },
      { name: 'PST BC', percent: 7, agency: 'Minister of Finance (BC)' },
      { name: 'Exempt', percent: 0, agency: 'Canada Revenue Agency' },
      { name: 'Zero-rated', percent: 0, agency: 'Canada Revenue Agency' },
    ],
    codes: [
      { name: 'GST', description: 'GST 5%', rates: [0], taxable: true },
      { name: 'HST ON', description: 'HST Ontario 13%', rates: [1], taxable: true },
      { name: 'GST/PST BC', description: 'GST 5% and PST BC 7%', rates: [0, 2], taxable: true },
      { name: 'Exempt', description: 'Exempt', rates: [3], taxable: false },
      { name: 'Zero-rated', description: 'Zero-rated', rates: [4], taxable: true },
    ],
  },
  GB: {
    rates: [
      { name: '20.0% S', percent: 20, agency: 'HMRC' },
      { name: '5.0% R', percent: 5, agency: 'HMRC' },
      { name: '0.0% Z', percent: 0, agency: 'HMRC' },
      { name: 'Exempt', percent: 0, agency: 'HMRC' },
    ],
    codes: [
      { name: '20.0% S', description: 'Standard 20%', rates: [0], taxable: true },
      { name: '5.0% R', description: 'Reduced 5%', rates: [1], taxable: true },
      { name: '0.0% Z', description: 'Zero-rated', rates: [2], taxable: true },
      { name: 'Exempt', description: 'Exempt', rates: [3], taxable: false },
    ],
  },
  AU: {
    rates: [
      { name: 'GST (sales)', percent: 10, agency: 'Australian Taxation Office' },
      { name: 'GST free (sales)', percent: 0, agency: 'Australian Taxation Office' },
    ],
    codes: [
      { name: 'GST', description: 'GST 10%', rates: [0], taxable: true },
      { name: 'FRE', description: 'GST free', rates: [1], taxable: false },
    ],
  },
};

export interface SeedOptions {
  /** US: the percentage of the company's default sales tax code (default 8). */
  usSalesTaxPercent?: number;
  /** Add sample data like Intuit's sandbox companies: more accounts (Expense ones among them), items, customers. */
  sampleData?: boolean;
}

export function seedCompany(company: Company, at: number, options: SeedOptions = {}): void {
  const s = company.settings;
  const meta = {
    CreateTime: companyTimestamp(at, s.offsetMinutes),
    LastUpdatedTime: companyTimestamp(at, s.offsetMinutes),
  };
  const add = (entity: EntityName, body: Rec, id?: string): Rec => {
    const record: Rec = {
      ...body,
      domain: 'QBO',
      sparse: false,
      Id: id ?? company.nextId(entity),
      SyncToken: '0',
      MetaData: { ...meta },
    };
    company.put(entity, record, at);
    return record;
  };
  const currencyRef = { value: s.currency, name: currencyNames[s.currency] ?? s.currency };
  const account = (Name: string, AccountType: string, AccountSubType: string, Classification: string): Rec =>
    add('Account', {
      Name,
      SubAccount: false,
      FullyQualifiedName: Name,
      Active: true,
      Classification,
      AccountType,
      AccountSubType,
      CurrentBalance: 0,
      CurrentBalanceWithSubAccounts: 0,
      CurrencyRef: currencyRef,
    });
  // Account 1 is the "Services" income account that item 1 "Services" posts to (NangoHQ item recordings:
  // IncomeAccountRef {value:"1", name:"Services"}).
  const services = account('Services', 'Income', 'ServiceFeeIncome', 'Revenue');
  account('Sales of Product Income', 'Income', 'SalesOfProductIncome', 'Revenue');
  account('Undeposited Funds', 'Other Current Asset', 'UndepositedFunds', 'Asset');
  account('Accounts Receivable (A/R)', 'Accounts Receivable', 'AccountsReceivable', 'Asset');
  account('Checking', 'Bank', 'Checking', 'Asset');
  account('Discounts given', 'Income', 'DiscountsRefundsGiven', 'Revenue');
  account('Cost of Goods Sold', 'Cost of Goods Sold', 'SuppliesMaterialsCogs', 'Expense');
  account('Inventory Asset', 'Other Current Asset', 'Inventory', 'Asset');
  account(
    s.country === 'US'
      ? 'Sales Tax Payable'
      : s.country === 'CA'
        ? 'GST/HST Payable'
        : s.country === 'GB'
          ? 'VAT Control'
          : 'GST Liabilities Payable',
    'Other Current Liability',
    'SalesTaxPayable',
    'Liability',
  );

  // Every company starts with the items "Services" (the default item of a sales line without ItemRef) and "Hours",
  // Ids 1 and 2, created with the company (VCR create/invoice.yml; NangoHQ item recordings).
  const serviceItem = (Name: string): Rec =>
    add('Item', {
      Name,
      Active: true,
      FullyQualifiedName: Name,
      Taxable: false,
      UnitPrice: 0,
      Type: 'Service',
      IncomeAccountRef: { value: services.Id, name: services.Name },
      PurchaseCost: 0,
      TrackQtyOnHand: false,
    });
  serviceItem(DEFAULT_ITEM_NAME);
  serviceItem('Hours');

  for (const [Name, Type] of [
    ['Cash', 'NON_CREDIT_CARD'],
    ['Check', 'NON_CREDIT_CARD'],
    ['Visa', 'CREDIT_CARD'],
    ['MasterCard', 'CREDIT_CARD'],
    ['American Express', 'CREDIT_CARD'],
  ] as const) {
    add('PaymentMethod', { Name, Active: true, Type });
  }

  if (s.country === 'US') {
    // US companies expose the TAX/NON pseudo codes as TaxCode records whose Id is the code itself.
    add(
      'TaxCode',
      { Name: 'TAX', Description: 'TAX', Taxable: true, TaxGroup: false, Active: true, Hidden: false },
      'TAX',
    );
    add(
      'TaxCode',
      { Name: 'NON', Description: 'NON', Taxable: false, TaxGroup: false, Active: true, Hidden: false },
      'NON',
    );
    const percent = options.usSalesTaxPercent ?? 8;
    const rate = add('TaxRate', {
      Name: 'State Sales Tax',
      Description: 'Sales Tax',
      Active: true,
      RateValue: percent,
      AgencyRef: { value: '1' },
      SpecialTaxType: 'NONE',
      DisplayType: 'ReadOnly',
    });
    const code = add('TaxCode', {
      Name: 'State Sales Tax',
      Description: 'Sales Tax',
      Active: true,
      Hidden: false,
      Taxable: true,
      TaxGroup: true,
      SalesTaxRateList: {
        TaxRateDetail: [
          { TaxRateRef: { value: rate.Id, name: 'State Sales Tax' }, TaxTypeApplicable: 'TaxOnAmount', TaxOrder: 0 },
        ],
      },
      PurchaseTaxRateList: { TaxRateDetail: [] },
    });
    s.usDefaultTaxCodeId = code.Id as string;
  } else {
    const setup = taxSetups[s.country];
    const rates = setup.rates.map((r, i) =>
      add('TaxRate', {
        Name: r.name,
        Description: r.name,
        Active: true,
        RateValue: r.percent,
        AgencyRef: { value: String(i + 1) },
        SpecialTaxType: r.percent === 0 ? 'ZERO_RATE' : 'NONE',
        DisplayType: 'ReadOnly',
      }),
    );
    for (const code of setup.codes) {
      add('TaxCode', {
        Name: code.name,
        Description: code.description,
        Active: true,
        Hidden: false,
        Taxable: code.taxable,
        TaxGroup: code.rates.length > 1,
        SalesTaxRateList: {
          TaxRateDetail: code.rates.map((i, order) => ({
            TaxRateRef: { value: rates[i]!.Id, name: rates[i]!.Name },
            TaxTypeApplicable: 'TaxOnAmount',
            TaxOrder: order,
          })),
        },
        PurchaseTaxRateList: { TaxRateDetail: [] },
      });
    }
  }

  const defaults = countryDefaults[s.country];
  const address = {
    Id: '1',
    Line1: '1 Sandbox Way',
    City: 'Mountain View',
    Country: s.country,
    CountrySubDivisionCode: s.country === 'US' ? 'CA' : undefined,
    PostalCode: '94043',
  };
  add(
    'CompanyInfo',
    {
      CompanyName: s.name,
      LegalName: s.name,
      CompanyAddr: address,
      CustomerCommunicationAddr: address,
      LegalAddr: address,
      PrimaryPhone: {},
      CompanyStartDate: companyDate(at, s.offsetMinutes),
      FiscalYearStartMonth: 'January',
      Country: s.country,
      Email: { Address: 'sandbox@example.invalid' },
      WebAddr: {},
      SupportedLanguages: 'en',
      DefaultTimeZone: defaults.timeZone,
      NameValue: [
        { Name: 'NeoEnabled', Value: 'true' },
        { Name: 'IndustryType', Value: 'Sandbox' },
        { Name: 'CompanyType', Value: 'Other' },
        { Name: 'SubscriptionStatus', Value: 'SUBSCRIBED' },
        { Name: 'OfferingSku', Value: 'QuickBooks Online Plus' },
        { Name: 'PayrollFeature', Value: 'false' },
        { Name: 'AccountantFeature', Value: 'false' },
      ],
    },
    company.realmId,
  );
  add('Preferences', preferencesBody(s), '1');
  if (options.sampleData) addSampleData(company, add, currencyRef);
}

export function preferencesBody(s: CompanySettings): Rec {
  return {
    AccountingInfoPrefs: {
      TrackDepartments: false,
      ClassTrackingPerTxn: false,
      ClassTrackingPerTxnLine: false,
      CustomerTerminology: 'Customers',
    },
    ProductAndServicesPrefs: {
      ForSales: true,
      ForPurchase: true,
      QuantityWithPriceAndRate: true,
      QuantityOnHand: true,
    },
    SalesFormsPrefs: {
      CustomField: [
        { CustomField: [{ Name: 'SalesFormsPrefs.UseSalesCustom1', Type: 'BooleanType', BooleanValue: false }] },
      ],
      CustomTxnNumbers: s.customTxnNumbers,
      AllowDeposit: false,
      AllowDiscount: true,
      DefaultDiscountAccount: '6',
      AllowEstimates: true,
      AllowShipping: false,
      ETransactionEnabledStatus: 'NotApplicable',
      IPNSupportEnabled: false,
      AllowServiceDate: false,
      EstimateMessage: 'Thank you for your business.',
      DefaultCustomerMessage: 'Thank you for your business.',
      AutoApplyCredit: true,
    },
    EmailMessagesPrefs: {},
    VendorAndPurchasesPrefs: { TrackingByCustomer: false, BillableExpenseTracking: false, POCustomField: [] },
    TimeTrackingPrefs: {
      UseServices: false,
      BillCustomers: false,
      ShowBillRateToAll: false,
      WorkWeekStartDate: 'Monday',
      MarkTimeEntriesBillable: false,
    },
    TaxPrefs:
      s.country === 'US'
        ? {
            UsingSalesTax: true,
            PartnerTaxEnabled: false,
            TaxGroupCodeRef: s.usDefaultTaxCodeId ? { value: s.usDefaultTaxCodeId } : undefined,
          }
        : { UsingSalesTax: true },
    CurrencyPrefs: { MultiCurrencyEnabled: s.multiCurrency, HomeCurrency: { value: s.currency } },
    ReportPrefs: { ReportBasis: 'Accrual', CalcAgingReportFromTxnDate: false },
    OtherPrefs: {
      NameValue: [{ Name: 'SalesFormsPrefs.DefaultCustomerMessage', Value: 'Thank you for your business.' }],
    },
  };
}
