// Where a person opens a record in the providers' own web apps. The base comes from configuration (QBO_APP_URL,
// HL_APP_URL; the emulators' own origins in the demo and the tests, which serve a page at the same paths).
// QuickBooks Online: <app>/app/<page>?txnId=<Id> for transactions, /app/customerdetail?nameId=<Id> for a customer;
// the company is the one the person is signed in to (the URL carries no realm). HighLevel: the location is part of
// the path. docs/api-evidence.md lists the evidence for each path.

const QUICKBOOKS_PAGES: Record<string, (id: string) => string> = {
  Customer: (id) => `customerdetail?nameId=${id}`,
  SalesReceipt: (id) => `salesreceipt?txnId=${id}`,
  RefundReceipt: (id) => `refundreceipt?txnId=${id}`,
  Invoice: (id) => `invoice?txnId=${id}`,
  Payment: (id) => `recvpayment?txnId=${id}`,
};

/** A QuickBooks record's page, or null for a kind QuickBooks has no page for (or no app configured). */
export function quickbooksRecordUrl(appUrl: string | undefined, kind: string, id: string): string | null {
  const page = QUICKBOOKS_PAGES[kind];
  if (!appUrl || !page) return null;
  return `${appUrl.replace(/\/+$/, '')}/app/${page(encodeURIComponent(id))}`;
}

const HIGHLEVEL_PAGES: Record<string, (id: string) => string> = {
  contact: (id) => `contacts/detail/${id}`,
  invoice: (id) => `payments/invoices/edit/${id}`,
};

/** A HighLevel record's page in its location, or null for a kind without a page of its own (transactions, orders). */
export function highLevelRecordUrl(
  appUrl: string | undefined,
  locationId: string | null,
  kind: string,
  id: string,
): string | null {
  const page = HIGHLEVEL_PAGES[kind];
  if (!appUrl || !locationId || !page) return null;
  return `${appUrl.replace(/\/+$/, '')}/v2/location/${encodeURIComponent(locationId)}/${page(encodeURIComponent(id))}`;
}
