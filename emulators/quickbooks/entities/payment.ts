// Payment (receive payment): lines link amounts to invoices (LinkedTxn TxnType "Invoice"); what is not applied is
// UnappliedAmt. Applying lowers the invoice's Balance and adds the payment to the invoice's LinkedTxn; a void
// or delete gives the amounts back (reference §3.6). A credit memo is applied to an invoice the same way: a line
// linking the CreditMemo takes that much of its RemainingCredit as money for the invoice lines, so a payment of
// TotalAmt 0 can pay an invoice from a credit (docs/api-evidence.md, "Credits applied").
import { faults } from '../errors.ts';
import type { Rec } from '../json.ts';
import { recs, refValue, str } from '../json.ts';
import type { Scaled } from '../money.ts';
import { multiplyToCents, roundToCents, toFixedCents, toJsonNumber, toScaled } from '../money.ts';
import { companyDate } from '../time.ts';
import type { WriteContext } from './context.ts';
import { accountBySubType, currencyRef, nameRef, resolveRef, withoutSystemFields } from './context.ts';
import { paymentsAppliedTo } from './salesForms.ts';
import { applyHeaderSegments, checkDepositAccount } from './tracking.ts';

/** Invoice id (or, for `CreditMemo`, credit memo id) -> amount this payment applies to it (takes from it). */
export function applications(
  payment: Rec | undefined,
  txnType: 'Invoice' | 'CreditMemo' = 'Invoice',
): Map<string, Scaled> {
  const out = new Map<string, Scaled>();
  if (!payment) return out;
  for (const line of recs(payment.Line)) {
    const amount = toScaled(line.Amount) ?? 0n;
    for (const link of recs(line.LinkedTxn)) {
      if (link.TxnType !== txnType) continue;
      const id = str(link.TxnId)!;
      out.set(id, (out.get(id) ?? 0n) + amount);
    }
  }
  return out;
}

export function buildPayment(ctx: WriteContext, input: Rec, previous: Rec | undefined): Rec {
  const s = ctx.company.settings;
  const out = withoutSystemFields(input, ['UnappliedAmt', 'HomeTotalAmt']);
  if (out.CustomerRef === undefined) throw faults.requiredMissing('CustomerRef');
  const customer = resolveRef(ctx, 'Customer', out.CustomerRef, 'CustomerRef');
  out.CustomerRef = nameRef(customer, 'DisplayName');
  if (out.TotalAmt === undefined) throw faults.requiredMissing('TotalAmt');
  const total = toScaled(out.TotalAmt);
  if (total === undefined) throw faults.invalidNumber('TotalAmt', out.TotalAmt);
  if (total < 0n) throw faults.business('A payment amount cannot be negative.', 'TotalAmt');
  out.TotalAmt = toJsonNumber(roundToCents(total));

  const customerCurrency = refValue(customer.CurrencyRef) ?? s.currency;
  const currency = refValue(out.CurrencyRef) ?? customerCurrency;
  if (currency !== customerCurrency)
    throw faults.business(
      `The payment currency ${currency} does not match the customer's currency ${customerCurrency}.`,
      'CurrencyRef',
    );
  out.CurrencyRef = currencyRef(currency);

  const before = applications(previous);
  const creditsBefore = applications(previous, 'CreditMemo');
  let applied = 0n;
  let credits = 0n;
  const lines: Rec[] = [];
  for (const [index, raw] of recs(out.Line).entries()) {
    const element = `Line[${index}]`;
    if (raw.Amount === undefined) throw faults.requiredMissing(`${element}.Amount`);
    const amount = toScaled(raw.Amount);
    if (amount === undefined || amount < 0n) throw faults.invalidNumber(`${element}.Amount`, raw.Amount);
    const links = recs(raw.LinkedTxn);
    if (links.length === 0) throw faults.requiredMissing(`${element}.LinkedTxn`);
    if (links.length === 1 && links[0]!.TxnType === 'CreditMemo') {
      const { LineEx: _sent, ...line } = raw;
      lines.push({
        ...line,
        Amount: toJsonNumber(roundToCents(amount)),
        LinkedTxn: [creditLink(ctx, customer, links[0]!, amount, creditsBefore, element)],
      });
      credits += amount;
      continue;
    }
    for (const link of links) {
      const txnId = str(link.TxnId);
      if (!txnId) throw faults.requiredMissing(`${element}.LinkedTxn.TxnId`);
      if (link.TxnType !== 'Invoice')
        throw faults.business(
          `This emulator applies payments to invoices, and credit memos in a line of their own (TxnType ${String(link.TxnType)}).`,
          `${element}.LinkedTxn.TxnType`,
        );
      const invoice = ctx.company.get('Invoice', txnId);
      if (!invoice) throw faults.invalidReference('Invoice', txnId, `${element}.LinkedTxn`);
      if (refValue(invoice.CustomerRef) !== str(customer.Id)) {
        throw faults.business(
          `Invoice ${txnId} belongs to another customer; a payment can only be applied to the customer's own invoices.`,
          `${element}.LinkedTxn`,
        );
      }
      // Open balance seen by this payment: the invoice balance plus whatever this payment already applied to it.
      const open = (toScaled(invoice.Balance) ?? 0n) + (before.get(txnId) ?? 0n);
      if (amount > open)
        throw faults.business(
          `The payment amount ${toJsonNumber(amount)} applied to invoice ${txnId} exceeds its open balance ${toJsonNumber(open)}.`,
          `${element}.Amount`,
        );
    }
    applied += amount;
    const { LineEx: _sent, ...line } = raw;
    const first = ctx.company.get('Invoice', str(links[0]!.TxnId)!)!;
    const open = (toScaled(first.Balance) ?? 0n) + (before.get(str(first.Id)!) ?? 0n);
    lines.push({
      ...line,
      Amount: toJsonNumber(roundToCents(amount)),
      LinkedTxn: links.map((l) => ({ TxnId: str(l.TxnId), TxnType: 'Invoice' })),
      LineEx: lineEx(str(first.Id)!, open, str(first.DocNumber)),
    });
  }
  if (applied > total + credits)
    throw faults.business(
      `The lines apply ${toJsonNumber(applied)}, more than the payment total ${toJsonNumber(total)}${credits > 0n ? ` and the ${toJsonNumber(credits)} of credits it uses` : ''}.`,
      'Line',
    );
  if (credits > applied)
    throw faults.business(
      `The payment uses ${toJsonNumber(credits)} of credits but applies only ${toJsonNumber(applied)} to invoices.`,
      'Line',
    );
  out.Line = lines;
  out.UnappliedAmt = toJsonNumber(roundToCents(total + credits - applied));
  out.TxnDate =
    str(out.TxnDate)?.slice(0, 10) ??
    (previous ? str(previous.TxnDate) : undefined) ??
    companyDate(ctx.now, s.offsetMinutes);
  const account =
    out.DepositToAccountRef !== undefined
      ? resolveRef(ctx, 'Account', out.DepositToAccountRef, 'DepositToAccountRef')
      : accountBySubType(ctx, 'UndepositedFunds');
  if (account) checkDepositAccount(account);
  // A payment's DepositToAccountRef comes back as a bare {value} (NangoHQ payment recordings).
  if (account) out.DepositToAccountRef = { value: account.Id };
  if (out.PaymentMethodRef !== undefined)
    out.PaymentMethodRef = nameRef(resolveRef(ctx, 'PaymentMethod', out.PaymentMethodRef, 'PaymentMethodRef'));
  // A Payment carries a DepartmentRef (Transaction) but no header ClassRef (Finance.xsd).
  applyHeaderSegments(ctx, out, false);
  out.ProcessPayment = out.ProcessPayment ?? false;
  if (currency !== s.currency) {
    const rate = toScaled(out.ExchangeRate) ?? toScaled(s.exchangeRates[currency] ?? '1') ?? 10n ** 7n;
    out.ExchangeRate = toJsonNumber(rate);
    out.HomeTotalAmt = toJsonNumber(multiplyToCents(total, rate));
  }
  return out;
}

/**
 * The opaque LineEx QuickBooks adds to a payment line applied to an invoice: JAXB NameValue elements naming the
 * invoice (txnId), its open balance before this payment (txnOpenBalance, two decimals) and its number
 * (txnReferenceNumber). Shape and meaning derived from the NangoHQ payment recordings (see real-shapes test).
 */
function lineEx(invoiceId: string, openBalance: bigint, docNumber: string | undefined): Rec {
  const nameValue = (Name: string, Value: string): Rec => ({
    name: '{http://schema.intuit.com/finance/v3}NameValue',
    declaredType: 'com.intuit.schema.finance.v3.NameValue',
    scope: 'javax.xml.bind.JAXBElement$GlobalScope',
    value: { Name, Value },
    nil: false,
    globalScope: true,
    typeSubstituted: false,
  });
  const values = [nameValue('txnId', invoiceId), nameValue('txnOpenBalance', toFixedCents(openBalance))];
  if (docNumber !== undefined) values.push(nameValue('txnReferenceNumber', docNumber));
  return { any: values };
}

/** A line that takes credit from a credit memo of the payment's customer, no more than the credit it has left. */
function creditLink(
  ctx: WriteContext,
  customer: Rec,
  link: Rec,
  amount: Scaled,
  creditsBefore: Map<string, Scaled>,
  element: string,
): Rec {
  const txnId = str(link.TxnId);
  if (!txnId) throw faults.requiredMissing(`${element}.LinkedTxn.TxnId`);
  const memo = ctx.company.get('CreditMemo', txnId);
  if (!memo) throw faults.invalidReference('CreditMemo', txnId, `${element}.LinkedTxn`);
  if (refValue(memo.CustomerRef) !== str(customer.Id))
    throw faults.business(
      `Credit memo ${txnId} belongs to another customer; a payment can only use the customer's own credits.`,
      `${element}.LinkedTxn`,
    );
  const left = (toScaled(memo.RemainingCredit) ?? 0n) + (creditsBefore.get(txnId) ?? 0n);
  if (amount > left)
    throw faults.business(
      `The amount ${toJsonNumber(amount)} taken from credit memo ${txnId} exceeds its remaining credit ${toJsonNumber(left)}.`,
      `${element}.Amount`,
    );
  return { TxnId: txnId, TxnType: 'CreditMemo' };
}

/** The credit memo after this payment's use of it changed: RemainingCredit is its total less what payments took. */
export function creditMemoWithPayment(ctx: WriteContext, memo: Rec, paymentId: string, uses: boolean): Rec {
  const others = recs(memo.LinkedTxn).filter((l) => !(l.TxnType === 'Payment' && str(l.TxnId) === paymentId));
  const linked = uses ? [...others, { TxnId: paymentId, TxnType: 'Payment' }] : others;
  const remaining =
    (toScaled(memo.TotalAmt) ?? 0n) - paymentsAppliedTo(ctx, { ...memo, LinkedTxn: linked }, 'CreditMemo');
  return { ...memo, LinkedTxn: linked, RemainingCredit: toJsonNumber(remaining), Balance: toJsonNumber(remaining) };
}

export function voidedPayment(record: Rec): Rec {
  return {
    ...record,
    TotalAmt: 0,
    UnappliedAmt: 0,
    ...(record.HomeTotalAmt !== undefined ? { HomeTotalAmt: 0 } : {}),
    Line: recs(record.Line).map((line) => ({ ...line, Amount: 0 })),
    PrivateNote: 'Voided',
  };
}

/** The invoice after this payment's application changed: LinkedTxn lists the payment while it applies something. */
export function invoiceWithPayment(ctx: WriteContext, invoice: Rec, paymentId: string, applies: boolean): Rec {
  const others = recs(invoice.LinkedTxn).filter((l) => !(l.TxnType === 'Payment' && str(l.TxnId) === paymentId));
  const linked = applies ? [...others, { TxnId: paymentId, TxnType: 'Payment' }] : others;
  // An invoice keeps LinkedTxn even when nothing links to it any more (VCR create/invoice.yml: "LinkedTxn":[]).
  const next: Rec = { ...invoice, LinkedTxn: linked };
  const total = toScaled(invoice.TotalAmt) ?? 0n;
  const balance = total - paymentsAppliedTo(ctx, next);
  next.Balance = toJsonNumber(balance);
  if (next.HomeBalance !== undefined)
    next.HomeBalance = toJsonNumber(multiplyToCents(balance, toScaled(next.ExchangeRate) ?? 10n ** 7n));
  return next;
}
