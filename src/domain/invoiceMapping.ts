// HighLevel invoice -> QuickBooks Invoice body. The lines and the tax treatment (US folding or the global
// tax-code model) come from salesLines.ts; this file adds the header and the invoice's own rules.

import type { QboRef } from './customer.ts';
import type { CrmDiscount, CrmItem } from './crmTotals.ts';
import type { DomainError } from './result.ts';
import {
  qboSalesLines,
  type GlobalTaxCalculation,
  type QboSalesLine,
  type SalesLineContext,
  type TotalCheck,
} from './salesLines.ts';
import { billEmail, privateNote, qboDate, qboDocNumber, type TooLong } from './transactionFields.ts';

/** A HighLevel invoice as read from GET /invoices/{id} or an Invoice* webhook. */
export interface CrmInvoice {
  readonly _id: string;
  readonly invoiceNumber?: string | number | null;
  readonly name?: string | null;
  readonly issueDate: string;
  readonly dueDate?: string | null;
  readonly currency: string;
  /** `invoiceItems` in responses; `items` in create bodies. */
  readonly invoiceItems?: readonly CrmItem[] | null;
  readonly items?: readonly CrmItem[] | null;
  readonly discount?: CrmDiscount | null;
  readonly contactDetails?: {
    readonly id?: string | null;
    readonly email?: string | null;
    readonly name?: string | null;
  } | null;
}

export interface InvoiceContext extends SalesLineContext {
  /** The QuickBooks customer linked to the invoice's contact. */
  readonly customerRef: QboRef;
  /** What to do with an invoice number longer than 21 characters (default: error). */
  readonly docNumberTooLong?: TooLong;
  /** Leave DocNumber out and let QuickBooks number the invoice (default false). */
  readonly omitDocNumber?: boolean;
  /** The header class (a company that tracks one class per transaction). */
  readonly classRef?: QboRef;
  /** The department (location). */
  readonly departmentRef?: QboRef;
}

export interface QboInvoiceBody {
  readonly DocNumber?: string;
  readonly TxnDate: string;
  readonly DueDate?: string;
  readonly CustomerRef: QboRef;
  readonly CurrencyRef: QboRef;
  readonly BillEmail?: { readonly Address: string };
  readonly ClassRef?: QboRef;
  readonly DepartmentRef?: QboRef;
  readonly PrivateNote: string;
  readonly Line: readonly QboSalesLine[];
  readonly GlobalTaxCalculation?: GlobalTaxCalculation;
}

export type InvoiceMapping =
  | {
      readonly ok: true;
      readonly invoice: QboInvoiceBody;
      readonly expectedTotal: TotalCheck;
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly error: DomainError };

/** The PrivateNote that ties a QuickBooks form back to its HighLevel record (searchable in QuickBooks). */
export function invoiceNote(invoice: CrmInvoice): string {
  return privateNote(`HighLevel invoice ${invoice._id}${invoice.name ? ` - ${invoice.name}` : ''}`);
}

/**
 * The CRM invoice a QuickBooks form's note names: ledgerlink's invoices (invoiceNote) and the payments it records on
 * them (invoices.ts) both begin with "HighLevel invoice <id>". Undefined for a note ledgerlink did not write.
 */
export function crmInvoiceOfNote(note: string | undefined): string | undefined {
  return /^HighLevel invoice (\S+)/.exec(note ?? '')?.[1];
}

export function qboInvoiceForCrmInvoice(crm: CrmInvoice, context: InvoiceContext): InvoiceMapping {
  const label = `HighLevel invoice ${crm._id}${crm.invoiceNumber != null ? ` (no. ${crm.invoiceNumber})` : ''}`;
  const warnings: string[] = [];
  const txnDate = qboDate(crm.issueDate, 'the issue date', label);
  if (!txnDate.ok) return txnDate;
  let dueDate: string | undefined;
  if (crm.dueDate != null && crm.dueDate !== '') {
    const due = qboDate(crm.dueDate, 'the due date', label);
    if (!due.ok) return due;
    dueDate = due.value;
  }
  let docNumber: string | undefined;
  if (!context.omitDocNumber) {
    const doc = qboDocNumber(crm.invoiceNumber, label, context.docNumberTooLong);
    if (!doc.ok) return doc;
    docNumber = doc.value.docNumber;
    if (doc.value.warning) warnings.push(doc.value.warning);
  }
  const items = crm.invoiceItems ?? crm.items ?? [];
  const lines = qboSalesLines({ currency: crm.currency, items, discount: crm.discount ?? null }, context, label);
  if (!lines.ok) return lines;
  warnings.push(...lines.value.warnings);
  const email = billEmail(crm.contactDetails?.email);
  if (email.warning) warnings.push(`${label}: ${email.warning}`);
  const invoice: QboInvoiceBody = {
    ...(docNumber !== undefined ? { DocNumber: docNumber } : {}),
    TxnDate: txnDate.value,
    ...(dueDate !== undefined ? { DueDate: dueDate } : {}),
    CustomerRef: context.customerRef,
    CurrencyRef: { value: lines.value.totals.currency },
    ...(email.email !== undefined ? { BillEmail: { Address: email.email } } : {}),
    ...(context.classRef ? { ClassRef: context.classRef } : {}),
    ...(context.departmentRef ? { DepartmentRef: context.departmentRef } : {}),
    PrivateNote: invoiceNote(crm),
    Line: lines.value.lines,
    ...(lines.value.globalTaxCalculation !== undefined
      ? { GlobalTaxCalculation: lines.value.globalTaxCalculation }
      : {}),
  };
  return { ok: true, invoice, expectedTotal: lines.value.expectedTotal, warnings };
}
