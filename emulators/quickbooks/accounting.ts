// The Accounting API's write and read operations on one company, shared by the HTTP routes and /batch:
// create, read, full and sparse update (SyncToken checked, 5010 when stale), delete (hard for transactions, a
// deactivation for name lists), void, and invoice send. Entity rules live in entities/.
import type { Company, EntityName } from './company.ts';
import type { ChangeOperation, WriteContext } from './entities/context.ts';
import { buildAccount, buildCompanyInfo, buildItem, buildPaymentMethod, buildPreferences } from './entities/lists.ts';
import { buildName } from './entities/names.ts';
import {
  applications,
  buildPayment,
  creditMemoWithPayment,
  invoiceWithPayment,
  voidedPayment,
} from './entities/payment.ts';
import { buildSalesForm, paymentsAppliedTo, voidedSalesForm } from './entities/salesForms.ts';
import { buildSegment } from './entities/tracking.ts';
import { faults } from './errors.ts';
import type { Rec } from './json.ts';
import { isRec, refValue, str, withoutNulls } from './json.ts';
import { toJsonNumber, toScaled } from './money.ts';
import { checkAgainstSchema } from './schema/validate.ts';
import { companyTimestamp } from './time.ts';

type Builder = (ctx: WriteContext, input: Rec, previous: Rec | undefined, selfId: string) => Rec;

interface Capabilities {
  build?: Builder;
  create: boolean;
  delete: 'hard' | 'deactivate' | false;
  void: boolean;
}

const capabilities: Record<EntityName, Capabilities> = {
  Customer: {
    build: (c, i, p, id) => buildName(c, 'Customer', i, p, id),
    create: true,
    delete: 'deactivate',
    void: false,
  },
  Vendor: { build: (c, i, p, id) => buildName(c, 'Vendor', i, p, id), create: true, delete: 'deactivate', void: false },
  Employee: {
    build: (c, i, p, id) => buildName(c, 'Employee', i, p, id),
    create: true,
    delete: 'deactivate',
    void: false,
  },
  Item: { build: buildItem, create: true, delete: 'deactivate', void: false },
  Account: { build: buildAccount, create: true, delete: 'deactivate', void: false },
  PaymentMethod: { build: buildPaymentMethod, create: true, delete: 'deactivate', void: false },
  Class: {
    build: (c, i, p, id) => buildSegment(c, 'Class', i, p, id),
    create: true,
    delete: 'deactivate',
    void: false,
  },
  Department: {
    build: (c, i, p, id) => buildSegment(c, 'Department', i, p, id),
    create: true,
    delete: 'deactivate',
    void: false,
  },
  // Tax codes and rates are read-only over the accounting endpoints (reference §3.7).
  TaxCode: { create: false, delete: false, void: false },
  TaxRate: { create: false, delete: false, void: false },
  Invoice: { build: (c, i, p, id) => buildSalesForm(c, 'Invoice', i, p, id), create: true, delete: 'hard', void: true },
  SalesReceipt: {
    build: (c, i, p, id) => buildSalesForm(c, 'SalesReceipt', i, p, id),
    create: true,
    delete: 'hard',
    void: true,
  },
  CreditMemo: {
    build: (c, i, p, id) => buildSalesForm(c, 'CreditMemo', i, p, id),
    create: true,
    delete: 'hard',
    void: true,
  },
  RefundReceipt: {
    build: (c, i, p, id) => buildSalesForm(c, 'RefundReceipt', i, p, id),
    create: true,
    delete: 'hard',
    void: true,
  },
  Payment: { build: buildPayment, create: true, delete: 'hard', void: true },
  CompanyInfo: { build: (c, i, p) => buildCompanyInfo(c, i, p), create: false, delete: false, void: false },
  Preferences: { build: (c, i, p) => buildPreferences(c, i, p), create: false, delete: false, void: false },
};

/** Name-list entities whose queries hide inactive records unless asked (reference §2.3). */
export const nameListEntities: ReadonlySet<EntityName> = new Set([
  'Customer',
  'Vendor',
  'Employee',
  'Item',
  'Account',
  'PaymentMethod',
  'Class',
  'Department',
  'TaxCode',
  'TaxRate',
]);

export type ChangeListener = (
  company: Company,
  entity: EntityName,
  id: string,
  operation: ChangeOperation,
  at: number,
) => void;

export class Accounting {
  constructor(
    private readonly nowMs: () => number,
    private readonly onChange: ChangeListener,
  ) {}

  context(company: Company, include: ReadonlySet<string> = new Set()): WriteContext {
    const now = this.nowMs();
    return {
      company,
      now,
      include,
      emit: (entity, id, operation) => this.onChange(company, entity, id, operation, now),
    };
  }

  read(company: Company, entity: EntityName, id: string): Rec {
    if (!hasWellFormedId(entity, id)) throw faults.invalidId(id);
    const record = company.get(entity, id);
    if (!record) throw faults.objectNotFound(entity, id);
    return record;
  }

  create(company: Company, entity: EntityName, body: unknown, include: ReadonlySet<string> = new Set()): Rec {
    // A POST carrying an Id is an update, with or without ?operation=update (reference §2.1).
    if (isRec(body) && body.Id !== undefined && body.Id !== '') return this.update(company, entity, body, include);
    const caps = capabilities[entity];
    if (!caps.create || !caps.build) throw faults.unsupported(`Create for ${entity}`);
    const input = this.checkedBody(entity, body);
    const ctx = this.context(company, include);
    const built = caps.build(ctx, input, undefined, '');
    const time = companyTimestamp(ctx.now, company.settings.offsetMinutes);
    const id = company.nextId(entity);
    const record = withoutNulls({
      ...built,
      domain: 'QBO',
      sparse: false,
      Id: id,
      SyncToken: '0',
      MetaData: { CreateTime: time, LastUpdatedTime: time },
    });
    this.store(ctx, entity, record, undefined);
    ctx.emit(entity, id, 'Create');
    return record;
  }

  update(company: Company, entity: EntityName, body: unknown, include: ReadonlySet<string> = new Set()): Rec {
    const caps = capabilities[entity];
    if (!caps.build) throw faults.unsupported(`Update for ${entity}`);
    const input = this.checkedBody(entity, body);
    const previous = this.current(company, entity, input);
    if (entity === 'Payment' && include.has('void')) return this.void(company, entity, input);
    const ctx = this.context(company, include);
    const id = str(previous.Id)!;
    const merged = input.sparse === true ? { ...previous, ...input } : input;
    const built = caps.build(ctx, merged, previous, id);
    const record = withoutNulls({
      ...built,
      domain: 'QBO',
      sparse: false,
      Id: id,
      SyncToken: nextSyncToken(previous),
      MetaData: this.touched(ctx, previous),
    });
    this.store(ctx, entity, record, previous);
    ctx.emit(entity, id, 'Update');
    return record;
  }

  /** Transactions are removed and answer a `status:"Deleted"` stub; name lists are deactivated instead. */
  delete(company: Company, entity: EntityName, body: unknown): Rec {
    const caps = capabilities[entity];
    if (!caps.delete) throw faults.unsupported(`Delete for ${entity}`);
    const input = this.checkedBody(entity, body);
    const previous = this.current(company, entity, input);
    const id = str(previous.Id)!;
    if (caps.delete === 'deactivate') {
      return this.update(company, entity, { Id: id, SyncToken: previous.SyncToken, sparse: true, Active: false });
    }
    const ctx = this.context(company);
    if (entity === 'Invoice' && paymentsAppliedTo(ctx, previous) > 0n) {
      throw faults.business('This invoice has payments applied to it. Delete or void the payments first.', 'Id');
    }
    this.unstore(ctx, entity, previous);
    ctx.emit(entity, id, 'Delete');
    return { domain: 'QBO', status: 'Deleted', Id: id };
  }

  void(company: Company, entity: EntityName, body: unknown): Rec {
    const caps = capabilities[entity];
    if (!caps.void) throw faults.unsupported(`Void for ${entity}`);
    const input = this.checkedBody(entity, body);
    const previous = this.current(company, entity, input);
    const ctx = this.context(company);
    if (entity === 'Invoice' && paymentsAppliedTo(ctx, previous) > 0n) {
      throw faults.business('This invoice has payments applied to it. Delete or void the payments first.', 'Id');
    }
    const voided = entity === 'Payment' ? voidedPayment(previous) : voidedSalesForm(previous);
    const id = str(previous.Id)!;
    const record: Rec = { ...voided, SyncToken: nextSyncToken(previous), MetaData: this.touched(ctx, previous) };
    this.store(ctx, entity, record, previous);
    ctx.emit(entity, id, 'Void');
    return record;
  }

  /** POST /invoice/{id}/send: marks the invoice EmailSent with DeliveryInfo (NQB; RUBY-FX invoice_send.xml). */
  send(company: Company, id: string, sendTo: string | undefined): Rec {
    const previous = this.read(company, 'Invoice', id);
    const address = sendTo ?? str(isRec(previous.BillEmail) ? previous.BillEmail.Address : undefined);
    if (!address)
      throw faults.business('Missing email address: set BillEmail on the invoice or pass sendTo.', 'BillEmail');
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address))
      throw faults.invalidValue('sendTo', `Invalid Email Address format: ${address}`);
    const ctx = this.context(company);
    const record: Rec = {
      ...previous,
      BillEmail: { Address: address },
      EmailStatus: 'EmailSent',
      DeliveryInfo: { DeliveryType: 'Email', DeliveryTime: companyTimestamp(ctx.now, company.settings.offsetMinutes) },
      SyncToken: nextSyncToken(previous),
      MetaData: this.touched(ctx, previous),
    };
    this.store(ctx, 'Invoice', record, previous);
    ctx.emit('Invoice', id, 'Emailed');
    return record;
  }

  private checkedBody(entity: EntityName, body: unknown): Rec {
    if (!isRec(body)) throw faults.malformedRequest(`a JSON object holding one ${entity} was expected`);
    checkAgainstSchema(entity, entity, body);
    return body;
  }

  /** The stored record an update, delete or void names, with its SyncToken checked. */
  private current(company: Company, entity: EntityName, input: Rec): Rec {
    const id = str(input.Id);
    if (!id) throw faults.requiredMissing('Id');
    const syncToken = str(input.SyncToken);
    if (syncToken === undefined) throw faults.requiredMissing('SyncToken');
    const previous = company.get(entity, id);
    if (!previous) throw faults.objectNotFound(entity, id);
    if (syncToken !== previous.SyncToken) throw faults.staleObject(entity, id);
    return previous;
  }

  private touched(ctx: WriteContext, previous: Rec): Rec {
    const meta = isRec(previous.MetaData) ? previous.MetaData : {};
    return { ...meta, LastUpdatedTime: companyTimestamp(ctx.now, ctx.company.settings.offsetMinutes) };
  }

  private store(ctx: WriteContext, entity: EntityName, record: Rec, previous: Rec | undefined): void {
    ctx.company.put(entity, record, ctx.now);
    this.adjustCustomerBalance(ctx, entity, previous, -1n);
    this.adjustCustomerBalance(ctx, entity, record, 1n);
    if (entity === 'Payment') this.reapplyPayment(ctx, record, previous);
  }

  private unstore(ctx: WriteContext, entity: EntityName, previous: Rec): void {
    ctx.company.remove(entity, str(previous.Id)!, ctx.now);
    this.adjustCustomerBalance(ctx, entity, previous, -1n);
    if (entity === 'Payment') this.reapplyPayment(ctx, undefined, previous);
  }

  /** Invoices touched by a payment change get their Balance and LinkedTxn recomputed (and a new SyncToken). */
  private reapplyPayment(ctx: WriteContext, payment: Rec | undefined, previous: Rec | undefined): void {
    const paymentId = str((payment ?? previous)?.Id)!;
    // The invoices it applies to and the credit memos it takes credit from, recomputed alike.
    const forms = [
      { entity: 'Invoice', withPayment: invoiceWithPayment },
      { entity: 'CreditMemo', withPayment: creditMemoWithPayment },
    ] as const;
    for (const { entity, withPayment } of forms) {
      const after = applications(payment, entity);
      const ids = new Set([...applications(previous, entity).keys(), ...after.keys()]);
      for (const id of ids) {
        const form = ctx.company.get(entity, id);
        if (!form) continue;
        const next = withPayment(ctx, form, paymentId, (after.get(id) ?? 0n) > 0n);
        if (
          next.Balance === form.Balance &&
          next.RemainingCredit === form.RemainingCredit &&
          JSON.stringify(next.LinkedTxn) === JSON.stringify(form.LinkedTxn)
        )
          continue;
        const record = { ...next, SyncToken: nextSyncToken(form), MetaData: this.touched(ctx, form) };
        ctx.company.put(entity, record, ctx.now);
        this.adjustCustomerBalance(ctx, entity, form, -1n);
        this.adjustCustomerBalance(ctx, entity, record, 1n);
        ctx.emit(entity, id, 'Update');
      }
    }
  }

  /** A customer's Balance is its open invoices less unapplied payments and remaining credits. */
  private adjustCustomerBalance(ctx: WriteContext, entity: EntityName, record: Rec | undefined, sign: bigint): void {
    if (!record) return;
    let contribution = 0n;
    if (entity === 'Invoice') contribution = toScaled(record.Balance) ?? 0n;
    else if (entity === 'CreditMemo') contribution = -(toScaled(record.RemainingCredit) ?? 0n);
    else if (entity === 'Payment') contribution = -(toScaled(record.UnappliedAmt) ?? 0n);
    if (contribution === 0n) return;
    const customerId = refValue(record.CustomerRef);
    const customer = customerId ? ctx.company.get('Customer', customerId) : undefined;
    if (!customer) return;
    const balance = (toScaled(customer.Balance) ?? 0n) + sign * contribution;
    customer.Balance = toJsonNumber(balance);
    customer.BalanceWithJobs = customer.Balance;
  }
}

/** The largest Id a read accepts; beyond it Intuit answers 2030 like any malformed id (assumed bound, docs/api-evidence.md). */
const MAX_ID = 2_147_483_647;

/**
 * Ids are whole numbers: a read of `customer/1.5` answers 2030 (VCR error/500.yml), as does a 13-digit id. US tax
 * codes keep their TAX/NON ids and CompanyInfo is read by the realm id, so neither is checked.
 */
function hasWellFormedId(entity: EntityName, id: string): boolean {
  if (entity === 'TaxCode' || entity === 'CompanyInfo' || entity === 'Preferences') return true;
  return /^\d+$/.test(id) && Number(id) <= MAX_ID;
}

function nextSyncToken(previous: Rec): string {
  return String(Number(str(previous.SyncToken) ?? '0') + 1);
}
