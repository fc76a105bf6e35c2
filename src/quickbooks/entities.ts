// zod schemas for the QuickBooks entities ledgerlink reads and writes. Field names follow Intuit's XSD
// (vendor-specs/quickbooks/xsd). Objects are loose: unknown fields pass through untouched so a full
// update never drops what we did not model. Fields the sync depends on are typed strictly.
import { z } from 'zod';

export const refSchema = z.looseObject({ value: z.string(), name: z.string().optional() });
export type Ref = z.infer<typeof refSchema>;

export const metaDataSchema = z.looseObject({
  CreateTime: z.string().optional(),
  LastUpdatedTime: z.string().optional(),
});

export const emailSchema = z.looseObject({ Address: z.string().optional() });
export const phoneSchema = z.looseObject({ FreeFormNumber: z.string().optional() });
export const addressSchema = z.looseObject({
  Id: z.string().optional(),
  Line1: z.string().optional(),
  Line2: z.string().optional(),
  Line3: z.string().optional(),
  City: z.string().optional(),
  Country: z.string().optional(),
  CountrySubDivisionCode: z.string().optional(),
  PostalCode: z.string().optional(),
});

export const customFieldSchema = z.looseObject({
  DefinitionId: z.string(),
  Name: z.string().optional(),
  Type: z.string().optional(),
  StringValue: z.string().optional(),
});

// Every stored entity has these; Id and SyncToken are what updates and echo suppression hinge on.
const entityBase = {
  Id: z.string(),
  SyncToken: z.string(),
  domain: z.string().optional(),
  sparse: z.boolean().optional(),
  MetaData: metaDataSchema.optional(),
};

export const customerSchema = z.looseObject({
  ...entityBase,
  DisplayName: z.string(),
  Title: z.string().optional(),
  GivenName: z.string().optional(),
  MiddleName: z.string().optional(),
  FamilyName: z.string().optional(),
  Suffix: z.string().optional(),
  CompanyName: z.string().optional(),
  FullyQualifiedName: z.string().optional(),
  PrimaryEmailAddr: emailSchema.optional(),
  PrimaryPhone: phoneSchema.optional(),
  Mobile: phoneSchema.optional(),
  BillAddr: addressSchema.optional(),
  ShipAddr: addressSchema.optional(),
  Notes: z.string().optional(),
  Active: z.boolean().optional(),
  Taxable: z.boolean().optional(),
  Balance: z.number().optional(),
  CurrencyRef: refSchema.optional(),
  DefaultTaxCodeRef: refSchema.optional(),
});

export const itemSchema = z.looseObject({
  ...entityBase,
  Name: z.string(),
  Type: z.string().optional(),
  Description: z.string().optional(),
  UnitPrice: z.number().optional(),
  Active: z.boolean().optional(),
  Taxable: z.boolean().optional(),
  IncomeAccountRef: refSchema.optional(),
  SalesTaxCodeRef: refSchema.optional(),
  FullyQualifiedName: z.string().optional(),
  Sku: z.string().optional(),
});

export const accountSchema = z.looseObject({
  ...entityBase,
  Name: z.string(),
  AccountType: z.string().optional(),
  AccountSubType: z.string().optional(),
  Classification: z.string().optional(),
  Active: z.boolean().optional(),
  FullyQualifiedName: z.string().optional(),
  CurrencyRef: refSchema.optional(),
});

export const paymentMethodSchema = z.looseObject({
  ...entityBase,
  Name: z.string(),
  Type: z.string().optional(),
  Active: z.boolean().optional(),
});

/**
 * Class and Department (a "Location" on QuickBooks' screens) share one shape: a name unique in its list, an
 * optional parent (SubClass/SubDepartment) and the "Parent:Child" FullyQualifiedName (Finance.xsd).
 */
export const classSchema = z.looseObject({
  ...entityBase,
  Name: z.string(),
  SubClass: z.boolean().optional(),
  ParentRef: refSchema.optional(),
  FullyQualifiedName: z.string().optional(),
  Active: z.boolean().optional(),
});

export const departmentSchema = z.looseObject({
  ...entityBase,
  Name: z.string(),
  SubDepartment: z.boolean().optional(),
  ParentRef: refSchema.optional(),
  FullyQualifiedName: z.string().optional(),
  Active: z.boolean().optional(),
});

const taxRateDetailSchema = z.looseObject({
  TaxRateRef: refSchema,
  TaxTypeApplicable: z.string().optional(),
  TaxOrder: z.number().optional(),
});

export const taxCodeSchema = z.looseObject({
  ...entityBase,
  Name: z.string(),
  Description: z.string().optional(),
  Active: z.boolean().optional(),
  Taxable: z.boolean().optional(),
  TaxGroup: z.boolean().optional(),
  SalesTaxRateList: z.looseObject({ TaxRateDetail: z.array(taxRateDetailSchema).optional() }).optional(),
});

export const taxRateSchema = z.looseObject({
  ...entityBase,
  Name: z.string(),
  Description: z.string().optional(),
  Active: z.boolean().optional(),
  RateValue: z.number().optional(),
  AgencyRef: refSchema.optional(),
});

export const lineSchema = z.looseObject({
  Id: z.string().optional(),
  LineNum: z.number().optional(),
  Description: z.string().optional(),
  Amount: z.number().optional(),
  DetailType: z.string(),
  SalesItemLineDetail: z
    .looseObject({
      ItemRef: refSchema.optional(),
      Qty: z.number().optional(),
      UnitPrice: z.number().optional(),
      TaxCodeRef: refSchema.optional(),
      ServiceDate: z.string().optional(),
    })
    .optional(),
  DiscountLineDetail: z
    .looseObject({
      PercentBased: z.boolean().optional(),
      DiscountPercent: z.number().optional(),
      DiscountAccountRef: refSchema.optional(),
    })
    .optional(),
  LinkedTxn: z.array(z.looseObject({ TxnId: z.string(), TxnType: z.string() })).optional(),
});
export type Line = z.infer<typeof lineSchema>;

export const txnTaxDetailSchema = z.looseObject({
  TxnTaxCodeRef: refSchema.optional(),
  TotalTax: z.number().optional(),
  TaxLine: z.array(z.looseObject({ Amount: z.number().optional(), DetailType: z.string().optional() })).optional(),
});

const linkedTxnSchema = z.looseObject({ TxnId: z.string(), TxnType: z.string() });

// Shared by Invoice, SalesReceipt and RefundReceipt (XSD SalesTransaction).
const salesTransaction = {
  ...entityBase,
  DocNumber: z.string().optional(),
  TxnDate: z.string().optional(),
  CustomerRef: refSchema.optional(),
  Line: z.array(lineSchema).default([]),
  TotalAmt: z.number().optional(),
  Balance: z.number().optional(),
  CurrencyRef: refSchema.optional(),
  ExchangeRate: z.number().optional(),
  TxnTaxDetail: txnTaxDetailSchema.optional(),
  GlobalTaxCalculation: z.string().optional(),
  ApplyTaxAfterDiscount: z.boolean().optional(),
  PrivateNote: z.string().optional(),
  CustomerMemo: z.looseObject({ value: z.string() }).optional(),
  BillEmail: emailSchema.optional(),
  BillAddr: addressSchema.optional(),
  ShipAddr: addressSchema.optional(),
  CustomField: z.array(customFieldSchema).optional(),
  LinkedTxn: z.array(linkedTxnSchema).optional(),
  EmailStatus: z.string().optional(),
  PrintStatus: z.string().optional(),
  status: z.string().optional(),
};

export const invoiceSchema = z.looseObject({
  ...salesTransaction,
  CustomerRef: refSchema,
  DueDate: z.string().optional(),
  SalesTermRef: refSchema.optional(),
  DeliveryInfo: z.looseObject({ DeliveryType: z.string().optional(), DeliveryTime: z.string().optional() }).optional(),
  AllowOnlineCreditCardPayment: z.boolean().optional(),
  AllowOnlineACHPayment: z.boolean().optional(),
});

export const salesReceiptSchema = z.looseObject({
  ...salesTransaction,
  PaymentMethodRef: refSchema.optional(),
  PaymentRefNum: z.string().optional(),
  DepositToAccountRef: refSchema.optional(),
});

export const refundReceiptSchema = z.looseObject({
  ...salesTransaction,
  PaymentMethodRef: refSchema.optional(),
  PaymentRefNum: z.string().optional(),
  DepositToAccountRef: refSchema.optional(),
});

export const paymentSchema = z.looseObject({
  ...entityBase,
  CustomerRef: refSchema,
  TotalAmt: z.number(),
  UnappliedAmt: z.number().optional(),
  TxnDate: z.string().optional(),
  PaymentMethodRef: refSchema.optional(),
  PaymentRefNum: z.string().optional(),
  DepositToAccountRef: refSchema.optional(),
  CurrencyRef: refSchema.optional(),
  ExchangeRate: z.number().optional(),
  PrivateNote: z.string().optional(),
  // Payment lines carry Amount and LinkedTxn but no DetailType (XSD Line as used by Payment), unlike sales-form lines.
  Line: z.array(lineSchema.extend({ DetailType: z.string().optional() })).default([]),
  status: z.string().optional(),
});

export const companyInfoSchema = z.looseObject({
  ...entityBase,
  CompanyName: z.string(),
  LegalName: z.string().optional(),
  // Country drives the tax model: "US" means TAX/NON pseudo codes, anything else real tax codes.
  Country: z.string().optional(),
  Email: emailSchema.optional(),
  CompanyAddr: addressSchema.optional(),
  FiscalYearStartMonth: z.string().optional(),
  DefaultTimeZone: z.string().optional(),
  NameValue: z.array(z.looseObject({ Name: z.string(), Value: z.string() })).optional(),
});

export const preferencesSchema = z.looseObject({
  ...entityBase,
  // Whether transactions may carry a class (on the whole transaction, or on each line) and a location.
  AccountingInfoPrefs: z
    .looseObject({
      ClassTrackingPerTxn: z.boolean().optional(),
      ClassTrackingPerTxnLine: z.boolean().optional(),
      TrackDepartments: z.boolean().optional(),
      DepartmentTerminology: z.string().optional(),
    })
    .optional(),
  CurrencyPrefs: z
    .looseObject({
      MultiCurrencyEnabled: z.boolean().optional(),
      HomeCurrency: z.looseObject({ value: z.string() }).optional(),
    })
    .optional(),
  TaxPrefs: z
    .looseObject({
      UsingSalesTax: z.boolean().optional(),
      PartnerTaxEnabled: z.boolean().optional(),
    })
    .optional(),
  SalesFormsPrefs: z
    .looseObject({
      CustomTxnNumbers: z.boolean().optional(),
      AllowDiscount: z.boolean().optional(),
      CustomField: z.array(z.unknown()).optional(),
    })
    .optional(),
});

/** What a delete answers and what CDC reports for a deleted object: an Id and nothing else of use. */
export const deletedStubSchema = z.looseObject({
  Id: z.string(),
  status: z.literal('Deleted'),
  domain: z.string().optional(),
  MetaData: metaDataSchema.optional(),
});
export type DeletedStub = z.infer<typeof deletedStubSchema>;

export const entitySchemas = {
  Customer: customerSchema,
  Item: itemSchema,
  Account: accountSchema,
  PaymentMethod: paymentMethodSchema,
  Class: classSchema,
  Department: departmentSchema,
  TaxCode: taxCodeSchema,
  TaxRate: taxRateSchema,
  Invoice: invoiceSchema,
  SalesReceipt: salesReceiptSchema,
  Payment: paymentSchema,
  RefundReceipt: refundReceiptSchema,
} as const;

export type EntityName = keyof typeof entitySchemas;
export type EntityOf<N extends EntityName> = z.infer<(typeof entitySchemas)[N]>;
export type Customer = EntityOf<'Customer'>;
export type Item = EntityOf<'Item'>;
export type Account = EntityOf<'Account'>;
export type PaymentMethod = EntityOf<'PaymentMethod'>;
export type QboClass = EntityOf<'Class'>;
export type Department = EntityOf<'Department'>;
export type TaxCode = EntityOf<'TaxCode'>;
export type TaxRate = EntityOf<'TaxRate'>;
export type Invoice = EntityOf<'Invoice'>;
export type SalesReceipt = EntityOf<'SalesReceipt'>;
export type Payment = EntityOf<'Payment'>;
export type RefundReceipt = EntityOf<'RefundReceipt'>;
export type CompanyInfo = z.infer<typeof companyInfoSchema>;
export type Preferences = z.infer<typeof preferencesSchema>;

/** Entities that can be deleted outright (name-list entities can only be made inactive). */
export type DeletableEntity = 'Invoice' | 'SalesReceipt' | 'Payment' | 'RefundReceipt';
/** Entities that support operation=void. */
export type VoidableEntity = 'Invoice' | 'SalesReceipt' | 'Payment' | 'RefundReceipt';
/** Entities created and updated through the accounting endpoints (TaxCode/TaxRate are read-only there). */
export type WritableEntity = Exclude<EntityName, 'TaxCode' | 'TaxRate'>;

/** Body for a create: the entity's own fields, without server-assigned ones. */
export type CreateBody<N extends EntityName> = Partial<Omit<EntityOf<N>, 'Id' | 'SyncToken' | 'MetaData'>> &
  Record<string, unknown>;
/** Body for an update: Id and the SyncToken last read, plus the fields to change. */
export type UpdateBody<N extends EntityName> = Partial<EntityOf<N>> & { Id: string; SyncToken: string } & Record<
    string,
    unknown
  >;

/** URL segment for an entity: QuickBooks uses lowercase names (reference §2.1). */
export function entityPath(entity: string): string {
  return `/${entity.toLowerCase()}`;
}

export function isEntityName(name: string): name is EntityName {
  return Object.hasOwn(entitySchemas, name);
}

/** The `{"<Entity>": {...}, "time": ...}` envelope of single-entity answers. */
export function envelopeSchema<K extends string, S extends z.ZodType>(key: K, schema: S) {
  const build = () =>
    z.looseObject({ [key]: schema, time: z.string().optional() } as { [P in K]: S } & {
      time: z.ZodOptional<z.ZodString>;
    });
  // Built once per entity and schema: zod compiles a schema on its first parse, which cost more than the parse.
  const byKey = envelopes.get(schema) ?? new Map<string, z.ZodType>();
  envelopes.set(schema, byKey);
  const known = byKey.get(key) as ReturnType<typeof build> | undefined;
  if (known) return known;
  const made = build();
  byKey.set(key, made);
  return made;
}

const envelopes = new WeakMap<z.ZodType, Map<string, z.ZodType>>();
