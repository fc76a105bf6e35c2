// HighLevel payment (an order or a transaction with its line items) -> QuickBooks SalesReceipt, and a
// HighLevel refund -> QuickBooks RefundReceipt. Same line machinery and tax models as invoices
// (salesLines.ts).
//
// - The amount actually charged is the truth for a receipt: in the US model, when it differs from what the
//   lines add up to, it is spread over the lines (largest remainder) so QuickBooks records what was paid;
//   in the global model the difference is reported in expectedTotal.
// - PaymentRefNum (QuickBooks: 21 characters) carries the cheque number, else the end of the provider charge
//   id or HighLevel id; the full HighLevel id is always in PrivateNote.
// - A full refund repeats the sale's lines. A partial refund is spread over the sold lines by largest
//   remainder, weighted by what each line contributed to the sale (tax included), one line per sold line
//   with Qty 1. In the global model those amounts are tax-inclusive, so QuickBooks backs the tax out of them
//   and the refund total is exactly the amount refunded.

import { allocateBigint } from './allocation.ts';
import type { QboRef } from './customer.ts';
import type { CrmDiscount, CrmItem } from './crmTotals.ts';
import { decimalToJsonNumber, majorFromMinor, minorToDecimal, toMinorUnits, type Minor } from './money.ts';
import { QBO_LIMITS } from './quickbooksLimits.ts';
import { fail, type DomainError, type Failure } from './result.ts';
import {
  qboSalesLines,
  totalCheck,
  type GlobalTaxCalculation,
  type QboSalesItemLine,
  type QboSalesLine,
  type SalesLineContext,
  type SalesLines,
  type TotalCheck,
} from './salesLines.ts';
import { privateNote, qboDate, qboDocNumber } from './transactionFields.ts';
import { ownValue } from './lookup.ts';

export type CrmPaymentMode = 'card' | 'cash' | 'cheque' | 'bank_transfer' | 'other';

/** A HighLevel payment, normalised by the caller from an order or a transaction (+ its order's items). */
export interface CrmPayment {
  readonly id: string;
  readonly kind?: 'order' | 'transaction';
  readonly currency: string;
  /** When the money was taken (`fulfilledAt` / `createdAt`): YYYY-MM-DD or ISO. */
  readonly date: string;
  readonly items: readonly CrmItem[];
  readonly discount?: CrmDiscount | null;
  /** The amount charged, major units (HighLevel `amount`); when absent the lines' total is used. */
  readonly amount?: number | string | null;
  readonly paymentMode?: CrmPaymentMode | string | null;
  /** Card brand for card payments (`visa`, `mastercard`, `American Express`...). */
  readonly cardBrand?: string | null;
  readonly chequeNumber?: string | null;
  /** Provider charge id (Stripe `ch_...`), useful for bank reconciliation. */
  readonly chargeId?: string | null;
  /** The HighLevel order or invoice number, when there is one. */
  readonly documentNumber?: string | number | null;
}

export interface SalesReceiptContext extends SalesLineContext {
  /** The QuickBooks customer (optional on a SalesReceipt, but we link one when the payer is known). */
  readonly customerRef?: QboRef;
  /** paymentMethodKey -> QuickBooks PaymentMethod Id; `default` is used for keys not listed. */
  readonly paymentMethodIds: Readonly<Record<string, string>>;
  /** Where the money goes (QuickBooks defaults to Undeposited Funds). */
  readonly depositToAccountId?: string;
  /** The PaymentMethod the bookkeeper mapped (or ledgerlink found or created) for the payment: wins over paymentMethodIds. */
  readonly paymentMethodRef?: QboRef;
  /** The header class (a company that tracks one class per transaction). */
  readonly classRef?: QboRef;
  /** The department (location). */
  readonly departmentRef?: QboRef;
}

export interface QboSalesReceiptBody {
  readonly DocNumber?: string;
  readonly TxnDate: string;
  readonly CustomerRef?: QboRef;
  readonly CurrencyRef: QboRef;
  readonly PaymentMethodRef?: QboRef;
  readonly PaymentRefNum?: string;
  readonly DepositToAccountRef?: QboRef;
  readonly ClassRef?: QboRef;
  readonly DepartmentRef?: QboRef;
  readonly PrivateNote: string;
  readonly Line: readonly QboSalesLine[];
  readonly GlobalTaxCalculation?: GlobalTaxCalculation;
}

export type SalesReceiptMapping =
  | {
      readonly ok: true;
      readonly salesReceipt: QboSalesReceiptBody;
      readonly expectedTotal: TotalCheck;
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly error: DomainError };

const CARD_BRANDS: Readonly<Record<string, string>> = {
  visa: 'visa',
  mastercard: 'mastercard',
  'master card': 'mastercard',
  mc: 'mastercard',
  amex: 'amex',
  'american express': 'amex',
  americanexpress: 'amex',
  discover: 'discover',
  diners: 'diners',
  'diners club': 'diners',
  jcb: 'jcb',
  unionpay: 'unionpay',
  'union pay': 'unionpay',
};

/** The key a connection maps to a QuickBooks PaymentMethod: a card brand, `card`, `cash`, `cheque`, `bank_transfer`, `other`. */
export function paymentMethodKey(payment: Pick<CrmPayment, 'paymentMode' | 'cardBrand'>): string {
  const mode = payment.paymentMode?.trim().toLowerCase() ?? '';
  const brand = payment.cardBrand?.trim().toLowerCase() ?? '';
  if (brand !== '' && (mode === '' || mode === 'card')) return ownValue(CARD_BRANDS, brand) ?? 'card';
  if (mode === 'check') return 'cheque';
  if (mode === 'card' || mode === 'cash' || mode === 'cheque' || mode === 'bank_transfer') return mode;
  return 'other';
}

/**
 * The PaymentMethod a payment takes: the one given in the context, else the company's method for its key found by name
 * (a card brand falls back to `card`, any key to `default`).
 */
export function paymentMethodRef(
  payment: Pick<CrmPayment, 'paymentMode' | 'cardBrand'>,
  ctx: Pick<SalesReceiptContext, 'paymentMethodIds' | 'paymentMethodRef'>,
): QboRef | undefined {
  if (ctx.paymentMethodRef) return ctx.paymentMethodRef;
  const key = paymentMethodKey(payment);
  const fallback = Object.values(CARD_BRANDS).includes(key) ? ownValue(ctx.paymentMethodIds, 'card') : undefined;
  const id = ownValue(ctx.paymentMethodIds, key) ?? fallback ?? ownValue(ctx.paymentMethodIds, 'default');
  return id === undefined ? undefined : { value: id };
}

function paymentRefNum(payment: CrmPayment): string {
  const max = QBO_LIMITS.transaction.PaymentRefNum;
  const text = (payment.chequeNumber?.trim() || payment.chargeId?.trim() || payment.id).trim();
  return text.length <= max ? text : text.slice(-max);
}

export function paymentNote(payment: CrmPayment): string {
  return privateNote(
    `HighLevel ${payment.kind ?? 'payment'} ${payment.id}${payment.chargeId ? ` (charge ${payment.chargeId})` : ''}`,
  );
}

function label(payment: CrmPayment): string {
  return `HighLevel ${payment.kind ?? 'payment'} ${payment.id}`;
}

function chargedAmount(
  payment: CrmPayment,
): { ok: true; value: Minor | undefined } | { ok: false; error: DomainError } {
  if (payment.amount == null || payment.amount === '') return { ok: true, value: undefined };
  const r = toMinorUnits(payment.amount, payment.currency, { what: `${label(payment)} amount` });
  return r.ok ? { ok: true, value: r.value } : r;
}

export function qboSalesReceiptForCrmPayment(payment: CrmPayment, context: SalesReceiptContext): SalesReceiptMapping {
  const plan = salesReceiptPlan(payment, context);
  if (!plan.ok) return plan;
  const { salesReceipt, expectedTotal, warnings } = plan;
  return { ok: true, salesReceipt, expectedTotal, warnings };
}

type SalesReceiptPlan = Extract<SalesReceiptMapping, { ok: true }> & { readonly sale: SalesLines };

function salesReceiptPlan(payment: CrmPayment, context: SalesReceiptContext): SalesReceiptPlan | Failure {
  const where = label(payment);
  const date = qboDate(payment.date, 'the payment date', where);
  if (!date.ok) return date;
  const charged = chargedAmount(payment);
  if (!charged.ok) return charged;
  const lines = qboSalesLines(
    { currency: payment.currency, items: payment.items, discount: payment.discount ?? null },
    context,
    where,
    charged.value !== undefined ? { targetTotal: charged.value } : {},
  );
  if (!lines.ok) return lines;
  const warnings = [...lines.value.warnings];
  let expectedTotal = lines.value.expectedTotal;
  if (context.region === 'global' && charged.value !== undefined) {
    expectedTotal = totalCheck(expectedTotal.currency, charged.value, expectedTotal.quickbooksTotal);
  }
  let docNumber: string | undefined;
  if (payment.documentNumber != null) {
    const doc = qboDocNumber(payment.documentNumber, where, 'truncate');
    if (doc.ok) {
      docNumber = doc.value.docNumber;
      if (doc.value.warning) warnings.push(doc.value.warning);
    }
  }
  const method = paymentMethodRef(payment, context);
  if (!method)
    warnings.push(
      `${where}: no QuickBooks payment method is mapped for "${paymentMethodKey(payment)}"; the receipt has none`,
    );
  const salesReceipt: QboSalesReceiptBody = {
    ...(docNumber !== undefined ? { DocNumber: docNumber } : {}),
    TxnDate: date.value,
    ...(context.customerRef ? { CustomerRef: context.customerRef } : {}),
    CurrencyRef: { value: lines.value.totals.currency },
    ...(method ? { PaymentMethodRef: method } : {}),
    PaymentRefNum: paymentRefNum(payment),
    ...(context.depositToAccountId !== undefined ? { DepositToAccountRef: { value: context.depositToAccountId } } : {}),
    ...(context.classRef ? { ClassRef: context.classRef } : {}),
    ...(context.departmentRef ? { DepartmentRef: context.departmentRef } : {}),
    PrivateNote: paymentNote(payment),
    Line: lines.value.lines,
    ...(lines.value.globalTaxCalculation !== undefined
      ? { GlobalTaxCalculation: lines.value.globalTaxCalculation }
      : {}),
  };
  return { ok: true, salesReceipt, expectedTotal, warnings, sale: lines.value };
}

// ---------------------------------------------------------------------------------------------------------
// Refunds

export interface CrmRefund {
  readonly id: string;
  /** YYYY-MM-DD or ISO. */
  readonly date: string;
  readonly currency: string;
  /** Amount refunded, major units; absent = the whole payment. */
  readonly amount?: number | string | null;
}

export interface RefundReceiptContext extends SalesReceiptContext {
  /** The account the refund is paid from (RefundReceipt.DepositToAccountRef; QuickBooks requires it). */
  readonly refundFromAccountId: string;
}

export interface QboRefundReceiptBody {
  readonly TxnDate: string;
  readonly CustomerRef?: QboRef;
  readonly CurrencyRef: QboRef;
  readonly PaymentMethodRef?: QboRef;
  readonly PaymentRefNum?: string;
  readonly DepositToAccountRef: QboRef;
  readonly ClassRef?: QboRef;
  readonly DepartmentRef?: QboRef;
  readonly PrivateNote: string;
  readonly Line: readonly QboSalesLine[];
  readonly GlobalTaxCalculation?: GlobalTaxCalculation;
}

export type RefundReceiptMapping =
  | {
      readonly ok: true;
      readonly refundReceipt: QboRefundReceiptBody;
      readonly expectedTotal: TotalCheck;
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly error: DomainError };

export function qboRefundReceiptForCrmRefund(
  refund: CrmRefund,
  payment: CrmPayment,
  context: RefundReceiptContext,
): RefundReceiptMapping {
  const where = `HighLevel refund ${refund.id} of ${label(payment)}`;
  if (refund.currency.trim().toUpperCase() !== payment.currency.trim().toUpperCase()) {
    return fail(
      'MIXED_CURRENCY',
      `${where} is in ${refund.currency} but the payment was in ${payment.currency}`,
      'Check the refund in HighLevel.',
    );
  }
  const date = qboDate(refund.date, 'the refund date', where);
  if (!date.ok) return date;
  const sale = salesReceiptPlan(payment, context);
  if (!sale.ok) return sale;
  const saleTotal = sale.expectedTotal.crmTotal;
  let refunded: Minor = saleTotal;
  if (refund.amount != null && refund.amount !== '') {
    const r = toMinorUnits(refund.amount, refund.currency, { what: `${where} amount` });
    if (!r.ok) return r;
    refunded = r.value;
  }
  if (refunded <= 0)
    return fail('EMPTY_REFUND', `${where} refunds nothing`, 'Nothing to record; check the refund amount in HighLevel.');
  if (refunded > saleTotal) {
    return fail(
      'REFUND_TOO_LARGE',
      `${where} refunds ${majorFromMinor(refunded, payment.currency)} but the payment was ${majorFromMinor(saleTotal, payment.currency)}`,
      'Check the refund amount in HighLevel.',
    );
  }
  const currency = sale.salesReceipt.CurrencyRef.value;
  const base = {
    TxnDate: date.value,
    ...(sale.salesReceipt.CustomerRef ? { CustomerRef: sale.salesReceipt.CustomerRef } : {}),
    CurrencyRef: sale.salesReceipt.CurrencyRef,
    ...(sale.salesReceipt.PaymentMethodRef ? { PaymentMethodRef: sale.salesReceipt.PaymentMethodRef } : {}),
    ...(sale.salesReceipt.PaymentRefNum ? { PaymentRefNum: sale.salesReceipt.PaymentRefNum } : {}),
    DepositToAccountRef: { value: context.refundFromAccountId },
    ...(sale.salesReceipt.ClassRef ? { ClassRef: sale.salesReceipt.ClassRef } : {}),
    ...(sale.salesReceipt.DepartmentRef ? { DepartmentRef: sale.salesReceipt.DepartmentRef } : {}),
    PrivateNote: privateNote(`HighLevel refund ${refund.id} of ${payment.kind ?? 'payment'} ${payment.id}`),
  };
  if (refunded === saleTotal) {
    const refundReceipt: QboRefundReceiptBody = {
      ...base,
      Line: sale.salesReceipt.Line,
      ...(sale.salesReceipt.GlobalTaxCalculation
        ? { GlobalTaxCalculation: sale.salesReceipt.GlobalTaxCalculation }
        : {}),
    };
    return {
      ok: true,
      refundReceipt,
      expectedTotal: totalCheck(currency, refunded, sale.expectedTotal.quickbooksTotal),
      warnings: sale.warnings,
    };
  }

  // Partial: spread over the sold item lines, weighted by what each line brought in, tax included: in the US
  // model the folded Amount already is that; in the global model it is the CRM line's own total (net of its
  // discount share, plus exclusive taxes).
  const items = sale.salesReceipt.Line.filter((l): l is QboSalesItemLine => l.DetailType === 'SalesItemLineDetail');
  const weights = sale.sale.itemLines.map((p) => BigInt(context.region === 'US' ? p.amount : p.crm.total));
  if (weights.every((w) => w === 0n))
    return fail('EMPTY_SALE', `${where}: the payment's lines are all zero`, 'Check the payment in HighLevel.');
  const shares = allocateBigint(BigInt(refunded), weights);
  const global = context.region === 'global';
  const anyTaxCode = items.some(
    (l) => l.SalesItemLineDetail.TaxCodeRef && l.SalesItemLineDetail.TaxCodeRef.value !== 'NON',
  );
  const refundLines: QboSalesItemLine[] = [];
  for (const [i, line] of items.entries()) {
    const share = shares[i] ?? 0n;
    if (share === 0n) continue;
    const amount = decimalToJsonNumber(minorToDecimal(share, currency));
    refundLines.push({
      DetailType: 'SalesItemLineDetail',
      Amount: amount,
      Description: `Partial refund: ${line.Description ?? ''}`.trim(),
      SalesItemLineDetail: {
        ItemRef: line.SalesItemLineDetail.ItemRef,
        Qty: 1,
        UnitPrice: amount,
        ...(line.SalesItemLineDetail.TaxCodeRef ? { TaxCodeRef: line.SalesItemLineDetail.TaxCodeRef } : {}),
        ...(global && anyTaxCode ? { TaxInclusiveAmt: amount } : {}),
        ...(line.SalesItemLineDetail.ClassRef ? { ClassRef: line.SalesItemLineDetail.ClassRef } : {}),
      },
    });
  }
  const refundReceipt: QboRefundReceiptBody = {
    ...base,
    Line: refundLines,
    ...(global ? { GlobalTaxCalculation: anyTaxCode ? 'TaxInclusive' : 'NotApplicable' } : {}),
  };
  return { ok: true, refundReceipt, expectedTotal: totalCheck(currency, refunded, refunded), warnings: sale.warnings };
}
