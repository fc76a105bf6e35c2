// The bookkeeper's mappings as a flow uses them: one call per job gives the deposit account, the item of a CRM
// product, the class and location a transaction carries (none where the company's Preferences track neither) and
// the PaymentMethod of a CRM payment mode or card brand, found by name or created once when none is mapped. A
// mapping changed in the dashboard applies to the records written after it: each job reads the connection's
// settings as they are when it runs.
import {
  depositAccountRef,
  isCardKey,
  itemForProduct,
  mappedPaymentMethodId,
  NO_TRACKING,
  paymentMethodNames,
  trackingRefs,
  trackingSwitches,
  type TrackedTransaction,
  type TrackingRefs,
  type TrackingSwitches,
} from '../../domain/bookkeepingRefs.ts';
import type { QboRef } from '../../domain/customer.ts';
import { quickbooksRequestId } from '../../domain/requestId.ts';
import { paymentMethodKey, paymentMethodRef } from '../../domain/salesReceiptMapping.ts';
import type { QuickBooksClient } from '../../quickbooks/client.ts';
import type { PaymentMethod } from '../../quickbooks/entities.ts';
import { isDuplicateName } from '../../quickbooks/errors.ts';
import { select } from '../../quickbooks/query.ts';
import type { BookkeepingMappings } from '../../store/connections.ts';
import type { FlowContext } from '../engine/context.ts';

/** What a flow asks of the mappings while it writes one record. */
export interface Mappings {
  /** The choices as stored, for a record's activity entry. */
  readonly choices: BookkeepingMappings;
  /**
   * The company's tracking switches, as its Preferences said at most PREFERENCES_TTL_MS ago; NO_TRACKING without a
   * class or location mapped (nothing would go on a transaction, so the Preferences are not read).
   */
  readonly switches: TrackingSwitches;
  /** Where a sales receipt deposits; undefined: QuickBooks' Undeposited Funds. */
  readonly depositToAccountRef: QboRef | undefined;
  /** The income account for an item ledgerlink creates; undefined: the automatic choice (CompanyFacts). */
  readonly incomeAccountId: string | undefined;
  /** The QuickBooks Item of a CRM product, or undefined to find or create the item by the line's name. */
  itemForProduct(productId: string | null | undefined): string | undefined;
  /** The class and location refs of a transaction, with a note for each mapping the company's switches leave off. */
  tracking(transaction: TrackedTransaction): TrackingRefs;
  /** The PaymentMethod of a payment: as mapped, else found by name, else created once. */
  paymentMethodFor(payment: { paymentMode?: string | null; cardBrand?: string | null }): Promise<QboRef>;
}

/** How long a company's Preferences are reused: a bookkeeper who turns tracking on sees it used within this time. */
export const PREFERENCES_TTL_MS = 60_000;

const switchesByCompany = new Map<string, { at: number; value: Promise<TrackingSwitches> }>();
/**
 * PaymentMethod ids found or created, by company and key, for PREFERENCES_TTL_MS: the jobs of the next minute skip the
 * query, and a method a bookkeeper deactivates or renames is looked up again after it.
 */
const methodsByCompany = new Map<string, { at: number; ref: QboRef }>();

/** The company's tracking switches, read from its Preferences (reused for PREFERENCES_TTL_MS). */
export function companySwitches(qbo: QuickBooksClient, realmId: string): Promise<TrackingSwitches> {
  const held = switchesByCompany.get(realmId);
  if (held && Date.now() - held.at < PREFERENCES_TTL_MS) return held.value;
  const value = qbo.preferences().then(trackingSwitches);
  switchesByCompany.set(realmId, { at: Date.now(), value });
  value.catch(() => switchesByCompany.delete(realmId));
  if (switchesByCompany.size > 10_000) switchesByCompany.clear();
  return value;
}

/** Drops what was read of a company (after the dashboard changed its mappings or read its Preferences anew). */
export function forgetCompanyMappings(realmId: string): void {
  switchesByCompany.delete(realmId);
  for (const key of methodsByCompany.keys()) if (key.startsWith(`${realmId}\u0000`)) methodsByCompany.delete(key);
}

export async function mappingsFor(ctx: FlowContext): Promise<Mappings> {
  const realmId = ctx.connection.qboRealmId;
  if (!realmId) throw new Error(`connection ${ctx.connection.id} has no QuickBooks company`);
  const choices = ctx.connection.settings.mappings;
  const tracked = choices.classId !== undefined || choices.departmentId !== undefined;
  const switches = tracked ? await companySwitches(ctx.qbo, realmId) : NO_TRACKING;
  return {
    choices,
    switches,
    depositToAccountRef: depositAccountRef(choices),
    incomeAccountId: choices.incomeAccountId,
    itemForProduct: (productId) => itemForProduct(choices, productId),
    tracking: (transaction) => trackingRefs(choices, switches, transaction),
    paymentMethodFor: async (payment) => {
      const key = paymentMethodKey(payment);
      const mapped = mappedPaymentMethodId(choices, key);
      if (mapped !== undefined) return { value: mapped };
      const held = methodsByCompany.get(`${realmId}\u0000${key}`);
      if (held && Date.now() - held.at < PREFERENCES_TTL_MS) return held.ref;
      const country = (ctx.connection.qboCountry ?? 'US').toUpperCase();
      const method = await findOrCreatePaymentMethod(ctx, key, paymentMethodNames(key, country));
      const ref = { value: method.Id, name: method.Name };
      methodsByCompany.set(`${realmId}\u0000${key}`, { at: Date.now(), ref });
      if (methodsByCompany.size > 10_000) methodsByCompany.clear();
      return ref;
    },
  };
}

/**
 * The company's PaymentMethod named like `names` (QuickBooks compares names without regard to case), else one
 * created with the first name. The create's requestid is the same for every job of this connection and key, so two
 * jobs racing, or a retry after a lost answer, create one method; a name taken by an inactive method (6240) takes it
 * back into use rather than failing the payment.
 */
export async function findOrCreatePaymentMethod(
  ctx: Pick<FlowContext, 'qbo' | 'connection'>,
  key: string,
  names: readonly string[],
): Promise<PaymentMethod> {
  const found = named(await ctx.qbo.listPaymentMethods(), names);
  if (found) return found;
  try {
    return await ctx.qbo.create(
      'PaymentMethod',
      { Name: names[0]!, Type: isCardKey(key) ? 'CREDIT_CARD' : 'NON_CREDIT_CARD' },
      {
        requestId: quickbooksRequestId({
          connectionId: ctx.connection.id,
          flow: 'paymentMethods',
          sourceId: key,
          sourceVersion: ctx.connection.qboRealmId ?? '',
        }),
      },
    );
  } catch (error) {
    if (!isDuplicateName(error)) throw error;
    const inactive = named(
      await ctx.qbo.query(select('PaymentMethod').whereIn('Name', names).includeInactive().maxResults(100)),
      names,
    );
    if (!inactive) throw error;
    if (inactive.Active !== false) return inactive;
    return ctx.qbo.update(
      'PaymentMethod',
      { Id: inactive.Id, SyncToken: inactive.SyncToken ?? '0', Active: true },
      {
        requestId: quickbooksRequestId({
          connectionId: ctx.connection.id,
          flow: 'paymentMethods.reactivate',
          sourceId: inactive.Id,
          sourceVersion: inactive.SyncToken ?? '0',
        }),
      },
    );
  }
}

/** The first of `names` a method has, compared without regard to case as QuickBooks compares names. */
function named(methods: readonly PaymentMethod[], names: readonly string[]): PaymentMethod | undefined {
  for (const name of names) {
    const match = methods.find((m) => m.Name.trim().toLowerCase() === name.toLowerCase());
    if (match) return match;
  }
  return undefined;
}

/**
 * The items of a document's lines: CRM product id -> mapped QuickBooks Item for the lines whose product is mapped,
 * and the names of the other lines, whose items are found or created by name (services/items.ts).
 */
export function mappedItems(
  mappings: Pick<Mappings, 'itemForProduct'>,
  items: readonly { readonly name: string; readonly productId?: string | null | undefined }[],
): { itemIdsByProductId: Record<string, string>; namesByItem: string[] } {
  const itemIdsByProductId: Record<string, string> = {};
  const namesByItem: string[] = [];
  for (const item of items) {
    const itemId = mappings.itemForProduct(item.productId);
    if (itemId === undefined) namesByItem.push(item.name);
    else itemIdsByProductId[item.productId!] = itemId;
  }
  return { itemIdsByProductId, namesByItem };
}

/** The class and location refs of a sales form, as the pure mappings take them. */
export function salesFormTracking(refs: TrackingRefs): {
  classRef?: QboRef;
  lineClassRef?: QboRef;
  departmentRef?: QboRef;
} {
  return {
    ...(refs.ClassRef ? { classRef: refs.ClassRef } : {}),
    ...(refs.lineClassRef ? { lineClassRef: refs.lineClassRef } : {}),
    ...(refs.DepartmentRef ? { departmentRef: refs.DepartmentRef } : {}),
  };
}

/**
 * The PaymentMethod a receipt takes when the company's methods found by name (CompanyFacts `paymentMethodIds`) do not
 * decide it: the mapped one, else for a known mode or card brand the company has no method for, one found or created
 * once. Undefined: the receipt takes the method found by name, or none for a payment of unknown mode (no call then).
 */
export async function receiptPaymentMethod(
  mappings: Pick<Mappings, 'choices' | 'paymentMethodFor'>,
  payment: { paymentMode?: string | null; cardBrand?: string | null },
  paymentMethodIds: Readonly<Record<string, string>>,
): Promise<QboRef | undefined> {
  const key = paymentMethodKey(payment);
  if (mappedPaymentMethodId(mappings.choices, key) !== undefined) return mappings.paymentMethodFor(payment);
  if (key === 'other' || paymentMethodRef(payment, { paymentMethodIds }) !== undefined) return undefined;
  return mappings.paymentMethodFor(payment);
}
