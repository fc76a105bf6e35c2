// Demo data for a first start: what a small agency client would already have before connecting ledgerlink.
// QuickBooks companies get customers, service items and a few old invoices (some paid) through the public
// Accounting API with a minted token, as a bookkeeper's earlier work; CRM locations get contacts through the
// emulator's "act as a CRM user" actions. Some people are on both sides (same email), some on one only.
import type { QuickBooksEmulator } from '../emulators/quickbooks/index.ts';

interface Person {
  first: string;
  last: string;
  email: string;
  company?: string;
}

export interface DemoBusiness {
  customers: Person[];
  /** Only in the CRM (new leads). */
  leads: Person[];
  items: Array<{ name: string; price: number }>;
  /** Old invoices: customer index, item index, quantity, days ago, paid. */
  oldInvoices: Array<{ customer: number; item: number; qty: number; daysAgo: number; paid: boolean }>;
}

export const US_BUSINESS: DemoBusiness = {
  customers: [
    { first: 'Maya', last: 'Patel', email: 'maya.patel@example.com', company: 'Patel Dental' },
    { first: 'Jonas', last: 'Berg', email: 'jonas@bergbuilds.example', company: 'Berg Builds' },
    { first: 'Lucia', last: 'Romero', email: 'lucia.romero@example.org' },
    { first: 'Tom', last: "O'Neill", email: 'tom.oneill@example.net', company: "O'Neill & Sons" },
    { first: 'Aiko', last: 'Tanaka', email: 'aiko@tanaka-design.example' },
  ],
  leads: [
    { first: 'Priya', last: 'Singh', email: 'priya.singh@example.com' },
    { first: 'Sam', last: 'Carter', email: 'sam.carter@example.com' },
  ],
  items: [
    { name: 'Photo session', price: 350 },
    { name: 'Print package', price: 120 },
    { name: 'Brand shoot (half day)', price: 1200 },
  ],
  oldInvoices: [
    { customer: 0, item: 0, qty: 1, daysAgo: 95, paid: true },
    { customer: 1, item: 2, qty: 1, daysAgo: 60, paid: true },
    { customer: 2, item: 1, qty: 3, daysAgo: 40, paid: false },
    { customer: 3, item: 0, qty: 2, daysAgo: 21, paid: false },
  ],
};

export const CA_BUSINESS: DemoBusiness = {
  customers: [
    { first: 'Émilie', last: 'Gagnon', email: 'emilie.gagnon@example.ca', company: 'Gagnon Conseil' },
    { first: 'Liam', last: 'MacDonald', email: 'liam@macdonald-fisheries.example' },
    { first: 'Chloe', last: 'Wong', email: 'chloe.wong@example.ca' },
  ],
  leads: [{ first: 'Noah', last: 'Tremblay', email: 'noah.tremblay@example.ca' }],
  items: [
    { name: 'Strategy workshop', price: 900 },
    { name: 'Advisory hour', price: 180 },
  ],
  oldInvoices: [
    { customer: 0, item: 0, qty: 1, daysAgo: 70, paid: true },
    { customer: 1, item: 1, qty: 4, daysAgo: 30, paid: false },
  ],
};

export const SPARE_BUSINESS: DemoBusiness = {
  customers: [
    { first: 'Rosa', last: 'Diaz', email: 'rosa.diaz@example.com' },
    { first: 'Ken', last: 'Adams', email: 'ken.adams@example.com' },
  ],
  leads: [{ first: 'Ivy', last: 'Chen', email: 'ivy.chen@example.com' }],
  items: [{ name: 'Yoga class pack (10)', price: 180 }],
  oldInvoices: [
    { customer: 0, item: 0, qty: 1, daysAgo: 45, paid: false },
    { customer: 1, item: 0, qty: 2, daysAgo: 20, paid: true },
  ],
};

async function post(url: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok)
    throw new Error(`demo seed: ${url} answered ${response.status}: ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

async function get(url: string, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
  return (await response.json()) as Record<string, unknown>;
}

type Entity = { Id: string; SyncToken?: string; Name?: string; AccountType?: string; TotalAmt?: number };

/** A bookkeeper's earlier work in a QuickBooks company, through the public Accounting API. */
export async function seedQuickBooks(qbo: QuickBooksEmulator, realmId: string, business: DemoBusiness): Promise<void> {
  const { access_token: token } = qbo.admin.mintToken(realmId);
  const base = `${qbo.url}/v3/company/${realmId}`;
  const query = async (sql: string, entity: string) => {
    const answer = await get(`${base}/query?${new URLSearchParams({ query: sql, minorversion: '75' })}`, token);
    return ((answer.QueryResponse as Record<string, unknown> | undefined)?.[entity] ?? []) as Entity[];
  };
  const accounts = await query('SELECT * FROM Account', 'Account');
  const income = accounts.find((a) => a.Name === 'Services') ?? accounts.find((a) => a.AccountType === 'Income');
  const codes = await query('SELECT * FROM TaxCode', 'TaxCode');
  // Non-US lines need a real tax code: the first taxable one of the company (GST in Canada).
  const lineTax = codes.find((c) => c.Name === 'GST' || c.Name === 'TAX') ?? codes[0];
  const customers: Entity[] = [];
  for (const p of business.customers) {
    const answer = await post(
      `${base}/customer?minorversion=75`,
      {
        DisplayName: `${p.first} ${p.last}`,
        GivenName: p.first,
        FamilyName: p.last,
        PrimaryEmailAddr: { Address: p.email },
        ...(p.company ? { CompanyName: p.company } : {}),
      },
      token,
    );
    customers.push(answer.Customer as Entity);
  }
  const items: Entity[] = [];
  for (const item of business.items) {
    const answer = await post(
      `${base}/item?minorversion=75`,
      { Name: item.name, Type: 'Service', UnitPrice: item.price, IncomeAccountRef: { value: income!.Id } },
      token,
    );
    items.push(answer.Item as Entity);
  }
  for (const inv of business.oldInvoices) {
    const item = business.items[inv.item]!;
    const customer = customers[inv.customer]!;
    const txnDate = new Date(Date.now() - inv.daysAgo * 86_400_000).toISOString().slice(0, 10);
    const answer = await post(
      `${base}/invoice?minorversion=75`,
      {
        CustomerRef: { value: customer.Id },
        TxnDate: txnDate,
        Line: [
          {
            DetailType: 'SalesItemLineDetail',
            Amount: item.price * inv.qty,
            SalesItemLineDetail: {
              ItemRef: { value: items[inv.item]!.Id },
              Qty: inv.qty,
              UnitPrice: item.price,
              ...(lineTax ? { TaxCodeRef: { value: lineTax.Id } } : {}),
            },
          },
        ],
      },
      token,
    );
    const invoice = answer.Invoice as Entity;
    if (inv.paid) {
      await post(
        `${base}/payment?minorversion=75`,
        {
          CustomerRef: { value: customer.Id },
          TotalAmt: invoice.TotalAmt,
          TxnDate: txnDate,
          Line: [{ Amount: invoice.TotalAmt, LinkedTxn: [{ TxnId: invoice.Id, TxnType: 'Invoice' }] }],
        },
        token,
      );
    }
  }
}

/** Contacts already in the CRM: the customers (same emails) and a few leads; the products it sells. */
export async function seedHighLevel(hlUrl: string, locationId: string, business: DemoBusiness): Promise<void> {
  for (const item of business.items)
    await post(`${hlUrl}/_emulator/locations/${locationId}/products`, { name: item.name, productType: 'SERVICE' });
  for (const p of [...business.customers.slice(0, -1), ...business.leads]) {
    await post(`${hlUrl}/_emulator/locations/${locationId}/actions/contact`, {
      firstName: p.first,
      lastName: p.last,
      email: p.email,
      source: 'demo',
    });
  }
}

/**
 * A Canadian company that sells in two Atlantic provinces has two 15 % HST codes (Nova Scotia, New Brunswick):
 * a CRM tax called just "HST" at 15 % cannot be matched by rate alone, which is what the dashboard's tax code
 * mapping is for. The emulator's admin API has no call for tax codes, so the demo adds them in-process.
 */
export function addAtlanticHst(qbo: QuickBooksEmulator, realmId: string): void {
  const company = qbo.admin.company(realmId);
  if (!company) return;
  const at = qbo.clock.nowMs();
  const meta = { CreateTime: new Date(at).toISOString(), LastUpdatedTime: new Date(at).toISOString() };
  for (const province of ['NS', 'NB']) {
    const rateId = company.nextId('TaxRate');
    company.put(
      'TaxRate',
      {
        Id: rateId,
        SyncToken: '0',
        domain: 'QBO',
        sparse: false,
        MetaData: meta,
        Name: `HST ${province}`,
        Description: `HST ${province}`,
        Active: true,
        RateValue: 15,
        AgencyRef: { value: '1' },
        SpecialTaxType: 'NONE',
        DisplayType: 'ReadOnly',
      },
      at,
    );
    company.put(
      'TaxCode',
      {
        Id: company.nextId('TaxCode'),
        SyncToken: '0',
        domain: 'QBO',
        sparse: false,
        MetaData: meta,
        Name: `HST ${province}`,
        Description: `HST ${province} 15%`,
        Taxable: true,
        TaxGroup: true,
        Active: true,
        Hidden: false,
        SalesTaxRateList: {
          TaxRateDetail: [
            { TaxRateRef: { value: rateId, name: `HST ${province}` }, TaxTypeApplicable: 'TaxOnAmount', TaxOrder: 0 },
          ],
        },
        PurchaseTaxRateList: { TaxRateDetail: [] },
      },
      at,
    );
  }
}
