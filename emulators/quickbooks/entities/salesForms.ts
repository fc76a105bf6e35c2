// Invoice, SalesReceipt, CreditMemo and RefundReceipt share QuickBooks' SalesTransaction shape: item lines
// (Amount = Qty x UnitPrice to the cent, else 6070), a generated SubTotal line, an optional discount line, tax
// (US: TAX/NON line codes and one transaction rate; elsewhere: a real TaxCode per line with GlobalTaxCalculation),
// TotalAmt and, for invoices, Balance = TotalAmt - payments applied. All sums are exact scaled bigints.
import type { EntityName } from '../company.ts';
import { faults } from '../errors.ts';
import type { Rec } from '../json.ts';
import { rec, recs, refValue, str } from '../json.ts';
import type { Scaled } from '../money.ts';
import {
  inclusiveTaxToCents,
  isWholeCents,
  multiplyToCents,
  percentOfToCents,
  proportionToCents,
  roundToCents,
  toJsonNumber,
  toScaled,
} from '../money.ts';
import { addDays, companyDate } from '../time.ts';
import type { WriteContext } from './context.ts';
import { accountBySubType, currencyRef, nameRef, resolveRef, withoutSystemFields } from './context.ts';
import { applyHeaderSegments, applyLineClass, checkDepositAccount } from './tracking.ts';

export type SalesFormEntity = 'Invoice' | 'SalesReceipt' | 'CreditMemo' | 'RefundReceipt';
export const salesFormEntities: readonly SalesFormEntity[] = ['Invoice', 'SalesReceipt', 'CreditMemo', 'RefundReceipt'];
export const isSalesForm = (entity: EntityName): entity is SalesFormEntity =>
  (salesFormEntities as readonly string[]).includes(entity);

/** The item a sales line without ItemRef is filed under. */
export const DEFAULT_ITEM_NAME = 'Services';

const computedFields = [
  'TotalAmt',
  'HomeTotalAmt',
  'Balance',
  'HomeBalance',
  'RemainingCredit',
  'LinkedTxn',
  'DeliveryInfo',
];

interface RateShare {
  rateId: string;
  rateName: string;
  percent: Scaled;
}

function amountOf(value: unknown, element: string): Scaled {
  const scaled = toScaled(value);
  if (scaled === undefined) throw faults.invalidNumber(element, value);
  return scaled;
}

/** The TaxRate records a TaxCode applies on sales. */
function ratesOfCode(ctx: WriteContext, code: Rec): RateShare[] {
  const details = recs(rec(code.SalesTaxRateList)?.TaxRateDetail);
  return details.map((detail) => {
    const rate = resolveRef(ctx, 'TaxRate', detail.TaxRateRef, 'TaxRateRef');
    return { rateId: str(rate.Id)!, rateName: str(rate.Name)!, percent: toScaled(rate.RateValue) ?? 0n };
  });
}

function parseDate(value: unknown, element: string): string | undefined {
  if (value === undefined) return undefined;
  const text = str(value);
  if (!text || !/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(Date.parse(text.slice(0, 10)))) {
    throw faults.invalidValue(element, `Invalid Date : ${String(value)} is not a valid date (yyyy-MM-dd)`);
  }
  return text.slice(0, 10);
}

/**
 * What the payments named in a form's LinkedTxn apply to it: to an invoice (`Invoice`), or taken from a credit memo's
 * credit (`CreditMemo`), from the lines of theirs that link it.
 */
export function paymentsAppliedTo(ctx: WriteContext, form: Rec, txnType: 'Invoice' | 'CreditMemo' = 'Invoice'): Scaled {
  let applied = 0n;
  const formId = str(form.Id);
  for (const link of recs(form.LinkedTxn)) {
    if (link.TxnType !== 'Payment') continue;
    const payment = ctx.company.get('Payment', str(link.TxnId) ?? '');
    if (!payment) continue;
    for (const line of recs(payment.Line)) {
      if (recs(line.LinkedTxn).some((l) => l.TxnType === txnType && str(l.TxnId) === formId))
        applied += toScaled(line.Amount) ?? 0n;
    }
  }
  return applied;
}

export function buildSalesForm(
  ctx: WriteContext,
  entity: SalesFormEntity,
  input: Rec,
  previous: Rec | undefined,
  selfId: string,
): Rec {
  const company = ctx.company;
  const s = company.settings;
  const out = withoutSystemFields(input, computedFields);
  const us = s.country === 'US';

  // Customer: required on invoices and credit memos (reference §3.4).
  let customer: Rec | undefined;
  if (out.CustomerRef !== undefined) {
    customer = resolveRef(ctx, 'Customer', out.CustomerRef, 'CustomerRef');
    out.CustomerRef = nameRef(customer, 'DisplayName');
  } else if (entity === 'Invoice' || entity === 'CreditMemo') {
    throw faults.requiredMissing(
      'CustomerRef',
      `Required parameter CustomerRef is missing in the request for ${entity}`,
    );
  }

  // Currency: the customer's (fixed at its creation); without multicurrency only the home currency exists.
  const customerCurrency = refValue(customer?.CurrencyRef) ?? s.currency;
  const currency = refValue(out.CurrencyRef) ?? customerCurrency;
  if (!s.multiCurrency && currency !== s.currency) {
    throw faults.business(
      `Multicurrency is not enabled; the transaction currency must be ${s.currency}, got ${currency}.`,
      'CurrencyRef',
    );
  }
  if (customer && currency !== customerCurrency) {
    throw faults.business(
      `The transaction currency ${currency} does not match the customer's currency ${customerCurrency}.`,
      'CurrencyRef',
    );
  }
  out.CurrencyRef = currencyRef(currency);

  const inputLines = recs(out.Line).filter((line) => line.DetailType !== 'SubTotalLineDetail');
  if (inputLines.length === 0)
    throw faults.requiredMissing(
      'Line',
      `Required parameter Line is missing in the request: a ${entity} needs at least one line`,
    );

  const globalMode = us ? 'US' : (str(out.GlobalTaxCalculation) ?? 'TaxExcluded');
  if (!us) out.GlobalTaxCalculation = globalMode;
  else if (out.GlobalTaxCalculation !== undefined) delete out.GlobalTaxCalculation; // not used by US companies (reference §3.7)

  const itemLines: Array<{ line: Rec; amount: Scaled; codeId: string; gross?: Scaled }> = [];
  const outLines: Rec[] = [];
  let discountLine: Rec | undefined;
  let nextLineId = 1;
  for (const [index, raw] of inputLines.entries()) {
    const line: Rec = { ...raw };
    const element = `Line[${index}]`;
    const detailType = str(line.DetailType);
    if (!detailType) throw faults.requiredMissing(`${element}.DetailType`);
    if (detailType === 'SalesItemLineDetail') {
      const detail: Rec = { ...(rec(line.SalesItemLineDetail) ?? {}) };
      // ItemRef is optional (XSD minOccurs 0): QuickBooks files a line without one under the company's default
      // item, "Services" (DotNet SDK issue #53; Item 1 "Services" in the recorded sandboxes).
      if (detail.ItemRef === undefined) {
        const fallback = company.findListName('Item', DEFAULT_ITEM_NAME);
        if (!fallback)
          throw faults.requiredMissing(
            `${element}.SalesItemLineDetail.ItemRef`,
            'Required parameter Line.SalesItemLineDetail.ItemRef is missing in the request',
          );
        detail.ItemRef = { value: fallback };
      }
      const item = resolveRef(ctx, 'Item', detail.ItemRef, 'ItemRef');
      detail.ItemRef = nameRef(item);
      applyLineClass(ctx, detail, element);
      let codeId = refValue(detail.TaxCodeRef);
      if (us) {
        codeId = codeId ?? 'NON';
        if (codeId !== 'TAX' && codeId !== 'NON') throw faults.invalidUsLineTaxCode(codeId);
        detail.TaxCodeRef = { value: codeId };
      } else if (globalMode !== 'NotApplicable' || codeId !== undefined) {
        codeId = codeId ?? refValue(item.SalesTaxCodeRef);
        if (!codeId)
          throw faults.business(
            `Make sure all your transactions have a tax code: ${element} has no TaxCodeRef and item ${str(item.Name)} has no sales tax code.`,
            `${element}.SalesItemLineDetail.TaxCodeRef`,
          );
        resolveRef(ctx, 'TaxCode', codeId, 'TaxCodeRef');
        detail.TaxCodeRef = { value: codeId };
      }
      const qty = detail.Qty !== undefined ? amountOf(detail.Qty, `${element}.Qty`) : undefined;
      let price = detail.UnitPrice !== undefined ? amountOf(detail.UnitPrice, `${element}.UnitPrice`) : undefined;
      let amount = line.Amount !== undefined ? amountOf(line.Amount, `${element}.Amount`) : undefined;
      // Line.Amount is always net of tax; under TaxInclusive a client may give the gross as TaxInclusiveAmt
      // instead, and QuickBooks derives the net (quickbooks-ruby #346; XSD: "total amount of line item including tax").
      let gross: Scaled | undefined;
      if (globalMode === 'TaxInclusive' && detail.TaxInclusiveAmt !== undefined) {
        gross = roundToCents(amountOf(detail.TaxInclusiveAmt, `${element}.TaxInclusiveAmt`));
        if (amount === undefined) {
          const combined = ratesOfCode(ctx, company.get('TaxCode', codeId!)!).reduce((t, r) => t + r.percent, 0n);
          amount = gross - inclusiveTaxToCents(gross, combined);
        }
      } else if (detail.TaxInclusiveAmt !== undefined) delete detail.TaxInclusiveAmt;
      // Without a UnitPrice QuickBooks prices a quantity at the item's sales price.
      if (qty !== undefined && price === undefined && amount === undefined) {
        price = toScaled(item.UnitPrice) ?? 0n;
        detail.UnitPrice = toJsonNumber(price);
      }
      if (amount === undefined) {
        if (qty === undefined || price === undefined)
          throw faults.requiredMissing(`${element}.Amount`, 'Required parameter Line.Amount is missing in the request');
        amount = multiplyToCents(qty, price);
      }
      if (!isWholeCents(amount)) amount = roundToCents(amount);
      if (qty !== undefined && price !== undefined && gross === undefined) {
        const expected = multiplyToCents(qty, price);
        if (expected !== amount)
          throw faults.amountMismatch(String(toJsonNumber(amount)), String(toJsonNumber(expected)));
      }
      line.Amount = toJsonNumber(amount);
      if (item.IncomeAccountRef !== undefined && detail.ItemAccountRef === undefined)
        detail.ItemAccountRef = item.IncomeAccountRef;
      line.SalesItemLineDetail = detail;
      // Item lines carry an empty CustomExtensions list in current answers (NangoHQ recordings, see real-shapes test).
      line.CustomExtensions = line.CustomExtensions ?? [];
      line.Id = String(nextLineId);
      line.LineNum = nextLineId++;
      itemLines.push({ line, amount, codeId: codeId ?? '', ...(gross !== undefined ? { gross } : {}) });
      outLines.push(line);
    } else if (detailType === 'DiscountLineDetail') {
      if (discountLine) throw faults.business('A transaction can carry only one discount line.', element);
      discountLine = line;
    } else if (detailType === 'DescriptionOnly') {
      line.Id = String(nextLineId++);
      delete line.Amount;
      outLines.push(line);
    } else {
      throw faults.business(
        `Line DetailType ${detailType} is not valid on a ${entity} in this emulator (supported: SalesItemLineDetail, DiscountLineDetail, DescriptionOnly, SubTotalLineDetail).`,
        `${element}.DetailType`,
      );
    }
  }

  const subtotal = itemLines.reduce((total, l) => total + l.amount, 0n);
  outLines.push({ Amount: toJsonNumber(subtotal), DetailType: 'SubTotalLineDetail', SubTotalLineDetail: {} });

  let discount = 0n;
  if (discountLine) {
    const detail: Rec = { ...(rec(discountLine.DiscountLineDetail) ?? {}) };
    if (detail.PercentBased === true) {
      if (detail.DiscountPercent === undefined) throw faults.discountIncomplete();
      const percent = amountOf(detail.DiscountPercent, 'DiscountLineDetail.DiscountPercent');
      discount = percentOfToCents(subtotal, percent);
    } else {
      if (discountLine.Amount === undefined) throw faults.discountIncomplete();
      discount = roundToCents(amountOf(discountLine.Amount, 'DiscountLine.Amount'));
      detail.PercentBased = false;
    }
    if (discount < 0n || discount > subtotal)
      throw faults.business('The discount must be between zero and the subtotal.', 'DiscountLineDetail');
    if (detail.DiscountAccountRef !== undefined)
      detail.DiscountAccountRef = nameRef(resolveRef(ctx, 'Account', detail.DiscountAccountRef, 'DiscountAccountRef'));
    else {
      const account = accountBySubType(ctx, 'DiscountsRefundsGiven');
      if (account) detail.DiscountAccountRef = nameRef(account);
    }
    discountLine.Amount = toJsonNumber(discount);
    discountLine.DiscountLineDetail = detail;
    discountLine.Id = String(nextLineId++);
    outLines.push(discountLine);
  }
  out.Line = outLines;

  // Tax.
  const txnTaxDetail: Rec = {};
  const taxLines: Rec[] = [];
  let totalTax = 0n;
  const inputTax = rec(out.TxnTaxDetail);
  if (us) {
    const taxable = itemLines.filter((l) => l.codeId === 'TAX');
    let base = taxable.reduce((t, l) => t + l.amount, 0n);
    const codeId = refValue(inputTax?.TxnTaxCodeRef) ?? (taxable.length > 0 ? s.usDefaultTaxCodeId : undefined);
    if (codeId) {
      const code = resolveRef(ctx, 'TaxCode', codeId, 'TxnTaxDetail.TxnTaxCodeRef');
      txnTaxDetail.TxnTaxCodeRef = { value: codeId };
      // ApplyTaxAfterDiscount: the discount shrinks the taxable base in proportion to the taxable share.
      if (discount > 0n && out.ApplyTaxAfterDiscount === true) base -= proportionToCents(discount, base, subtotal);
      if (taxable.length > 0) {
        for (const share of ratesOfCode(ctx, code)) {
          const tax = percentOfToCents(base, share.percent);
          totalTax += tax;
          taxLines.push(taxLine(share, tax, base));
        }
      }
    }
  } else if (globalMode !== 'NotApplicable') {
    // Non-US: line amounts are net; group them by tax code, spread the discount over the codes in proportion, tax
    // each code's base at its combined rate, and split that tax across the code's rates (the last takes the
    // remainder) so that one TaxLine per rate sums exactly to TotalTax. Under TaxInclusive a line given as a gross
    // keeps net + tax = gross (when there is no discount).
    const byCode = new Map<string, { net: Scaled; fixedTax: Scaled; netTaxedByRate: Scaled }>();
    for (const l of itemLines) {
      const entry = byCode.get(l.codeId) ?? { net: 0n, fixedTax: 0n, netTaxedByRate: 0n };
      entry.net += l.amount;
      if (l.gross !== undefined) entry.fixedTax += l.gross - l.amount;
      else entry.netTaxedByRate += l.amount;
      byCode.set(l.codeId, entry);
    }
    const byRate = new Map<string, { share: RateShare; base: Scaled; tax: Scaled }>();
    const lineTax = new Map<Rec, Scaled>();
    for (const [codeId, group] of byCode) {
      const shares = ratesOfCode(ctx, ctx.company.get('TaxCode', codeId)!);
      const combined = shares.reduce((t, r) => t + r.percent, 0n);
      const discountShare = discount > 0n ? proportionToCents(discount, group.net, subtotal) : 0n;
      const base = group.net - discountShare;
      const codeTax =
        discountShare > 0n || group.fixedTax === 0n
          ? percentOfToCents(base, combined)
          : group.fixedTax + percentOfToCents(group.netTaxedByRate, combined);
      let allocated = 0n;
      for (const [i, share] of shares.entries()) {
        const tax = i === shares.length - 1 ? codeTax - allocated : proportionToCents(codeTax, share.percent, combined);
        allocated += tax;
        const entry = byRate.get(share.rateId) ?? { share, base: 0n, tax: 0n };
        entry.base += base;
        entry.tax += tax;
        byRate.set(share.rateId, entry);
      }
      if (globalMode === 'TaxInclusive') {
        for (const l of itemLines)
          if (l.codeId === codeId)
            lineTax.set(l.line, l.gross !== undefined ? l.gross - l.amount : percentOfToCents(l.amount, combined));
      }
    }
    for (const { share, base, tax } of byRate.values()) {
      totalTax += tax;
      taxLines.push(taxLine(share, tax, base));
    }
    for (const l of itemLines) {
      const tax = lineTax.get(l.line);
      if (tax !== undefined)
        (l.line.SalesItemLineDetail as Rec).TaxInclusiveAmt = toJsonNumber(l.gross ?? l.amount + tax);
    }
  }
  txnTaxDetail.TotalTax = toJsonNumber(totalTax);
  if (taxLines.length > 0) txnTaxDetail.TaxLine = taxLines;
  out.TxnTaxDetail = txnTaxDetail;

  const total = subtotal - discount + totalTax;
  out.TotalAmt = toJsonNumber(total);

  // Numbers and dates.
  const docNumber = str(out.DocNumber) ?? (previous ? str(previous.DocNumber) : undefined);
  if (docNumber !== undefined) {
    if (docNumber.length > 21)
      throw faults.invalidValue(
        'DocNumber',
        'String length is either shorter or longer than supported by specification. Min:0 Max:21',
      );
    const owner = company.findDocNumber(entity, docNumber, selfId);
    if (owner && s.enforceUniqueDocNumbers && !ctx.include.has('allowduplicatedocnum'))
      throw faults.duplicateDocNumber(docNumber);
    out.DocNumber = docNumber;
  } else if (!s.customTxnNumbers) out.DocNumber = company.nextDocNumber(entity);
  const txnDate =
    parseDate(out.TxnDate, 'TxnDate') ??
    (previous ? str(previous.TxnDate) : undefined) ??
    companyDate(ctx.now, s.offsetMinutes);
  out.TxnDate = txnDate;

  // Addresses and email default from the customer, as QuickBooks fills them in (VCR create/invoice.yml).
  if (customer) {
    if (out.BillAddr === undefined && customer.BillAddr !== undefined) out.BillAddr = customer.BillAddr;
    if (out.ShipAddr === undefined && customer.ShipAddr !== undefined) out.ShipAddr = customer.ShipAddr;
    if (out.BillEmail === undefined && customer.PrimaryEmailAddr !== undefined)
      out.BillEmail = customer.PrimaryEmailAddr;
  }
  if (out.PaymentMethodRef !== undefined)
    out.PaymentMethodRef = nameRef(resolveRef(ctx, 'PaymentMethod', out.PaymentMethodRef, 'PaymentMethodRef'));
  applyHeaderSegments(ctx, out, true);
  out.PrintStatus = out.PrintStatus ?? (entity === 'Invoice' ? 'NeedToPrint' : 'NotSet');
  out.EmailStatus = out.EmailStatus ?? previous?.EmailStatus ?? 'NotSet';
  if (previous?.DeliveryInfo !== undefined) out.DeliveryInfo = previous.DeliveryInfo;
  out.ApplyTaxAfterDiscount = out.ApplyTaxAfterDiscount ?? false;

  // Every sales form lists the company's custom field definitions, [] when it has none; invoices always carry
  // LinkedTxn and the four online-payment switches (VCR create/invoice.yml; NangoHQ invoice recordings).
  out.CustomField = out.CustomField ?? previous?.CustomField ?? [];
  if (entity === 'Invoice') {
    for (const flag of [
      'AllowIPNPayment',
      'AllowOnlinePayment',
      'AllowOnlineCreditCardPayment',
      'AllowOnlineACHPayment',
    ] as const) {
      out[flag] = out[flag] ?? previous?.[flag] ?? false;
    }
  }

  let balance = 0n;
  if (entity === 'Invoice') {
    out.DueDate =
      parseDate(out.DueDate, 'DueDate') ??
      (previous && !input.TxnDate ? str(previous.DueDate) : undefined) ??
      addDays(txnDate, 30);
    out.LinkedTxn = previous?.LinkedTxn ?? [];
    const applied = previous ? paymentsAppliedTo(ctx, { ...previous, Id: selfId }) : 0n;
    if (applied > total)
      throw faults.business(
        `The invoice total ${toJsonNumber(total)} is less than the ${toJsonNumber(applied)} already paid on it.`,
        'Line',
      );
    balance = total - applied;
    out.Balance = toJsonNumber(balance);
  } else if (entity === 'CreditMemo') {
    // Credit already taken by payments stays taken when the memo is edited.
    out.LinkedTxn = previous?.LinkedTxn ?? [];
    const taken = previous ? paymentsAppliedTo(ctx, { ...previous, Id: selfId }, 'CreditMemo') : 0n;
    if (taken > total)
      throw faults.business(
        `The credit memo total ${toJsonNumber(total)} is less than the ${toJsonNumber(taken)} already applied from it.`,
        'Line',
      );
    balance = total - taken;
    out.Balance = toJsonNumber(balance);
    out.RemainingCredit = toJsonNumber(balance);
  } else {
    out.Balance = 0;
    const account =
      out.DepositToAccountRef !== undefined
        ? resolveRef(ctx, 'Account', out.DepositToAccountRef, 'DepositToAccountRef')
        : accountBySubType(ctx, entity === 'SalesReceipt' ? 'UndepositedFunds' : 'Checking');
    if (account && entity === 'SalesReceipt') checkDepositAccount(account);
    if (account) out.DepositToAccountRef = nameRef(account);
  }

  if (currency !== s.currency) {
    const rate = toScaled(out.ExchangeRate) ?? toScaled(s.exchangeRates[currency] ?? '1') ?? 10n ** 7n;
    out.ExchangeRate = toJsonNumber(rate);
    out.HomeTotalAmt = toJsonNumber(multiplyToCents(total, rate));
    if (entity === 'Invoice') out.HomeBalance = toJsonNumber(multiplyToCents(balance, rate));
  } else delete out.ExchangeRate;
  return out;
}

function taxLine(share: RateShare, tax: Scaled, base: Scaled): Rec {
  return {
    Amount: toJsonNumber(tax),
    DetailType: 'TaxLineDetail',
    TaxLineDetail: {
      TaxRateRef: { value: share.rateId, name: share.rateName },
      PercentBased: true,
      TaxPercent: toJsonNumber(share.percent),
      NetAmountTaxable: toJsonNumber(base),
    },
  };
}

/** A void keeps the transaction but zeroes every amount and notes "Voided" (VCR void/invoice.yml). */
export function voidedSalesForm(record: Rec): Rec {
  const out: Rec = { ...record };
  out.Line = recs(record.Line).map((line) => (line.Amount === undefined ? line : { ...line, Amount: 0 }));
  out.TotalAmt = 0;
  out.Balance = 0;
  if (out.HomeTotalAmt !== undefined) out.HomeTotalAmt = 0;
  if (out.HomeBalance !== undefined) out.HomeBalance = 0;
  if (out.RemainingCredit !== undefined) out.RemainingCredit = 0;
  out.TxnTaxDetail = { ...(rec(record.TxnTaxDetail) ?? {}), TotalTax: 0 };
  delete (out.TxnTaxDetail as Rec).TaxLine;
  out.PrivateNote = 'Voided';
  return out;
}
