// QuickBooks Online field and document limits, in one place so each assumption can be checked and changed.
// Sources: Intuit's API reference as summarised in /work/shared/reference/quickbooks.md (§3, §6.2), the
// public JSON schema transcription of the Customer entity (api-evangelist/intuit), and community reports.
// Lengths are counted in UTF-16 code units (QuickBooks' back end is Java, whose String.length counts those);
// that count is never smaller than the code-point count, so staying under it is safe either way.

export const QBO_LIMITS = {
  customer: {
    DisplayName: 500, // reference §6.2 and the Customer schema
    GivenName: 100,
    MiddleName: 100,
    FamilyName: 100,
    Title: 16,
    Suffix: 16,
    // The Customer schema transcription says 500; older community posts say 100. We use the smaller value so a
    // long company name is shortened by us, visibly, rather than refused by QuickBooks. [assumption]
    CompanyName: 100,
    PrimaryEmailAddress: 100, // EmailAddress.Address
    // TelephoneNumber.FreeFormNumber: 30 in the schema transcription; some posts say 21. E.164 numbers are at
    // most 16 characters, so either limit holds for what HighLevel stores. [assumption: 30]
    FreeFormNumber: 30,
  },
  address: {
    Line: 500, // Line1..Line5
    City: 255,
    CountrySubDivisionCode: 255,
    PostalCode: 30,
    Country: 255,
  },
  transaction: {
    DocNumber: 21, // Invoice / SalesReceipt / RefundReceipt number
    PrivateNote: 4000,
    LineDescription: 4000,
    CustomerMemo: 1000,
    PaymentRefNum: 21,
    // Intuit has been reported to cap sales forms at 750 lines; we could not confirm it from a primary source,
    // so the mapping takes the limit from its context and defaults to this value. [assumption]
    MaxLines: 750,
    // UnitPrice carries at most 7 decimals (community reports); we never produce more.
    UnitPriceDecimals: 7,
  },
  requestId: { single: 50, batch: 36 }, // reference §2.4
} as const;
