// A CRM contact with activity gets a QuickBooks customer: matched by normalised email among existing customers
// (updated when found), created when not. DisplayName clashes (6240, also with vendors and employees) move to
// the next deterministic candidate. A contact without an email cannot be matched: a clear error, retryable.
import { isDuplicateName, isStaleObject } from '../../quickbooks/errors.ts';
import type { Customer } from '../../quickbooks/entities.ts';
import { isNotFound as isHighLevelNotFound } from '../../highlevel/errors.ts';
import { contactSchema, type Contact } from '../../highlevel/contacts.ts';
import { checkEmail } from '../../domain/email.ts';
import {
  fieldsToWrite,
  qboCustomerForContact,
  syncedContactHash,
  syncedFieldsFromContact,
  syncedFieldsFromQboCustomer,
  type CrmContact,
  type SyncedContact,
} from '../../domain/customer.ts';
import { quickbooksRequestId } from '../../domain/requestId.ts';
import {
  findLinkByCrmId,
  findLinkByQboId,
  linksByCrmIds,
  saveLink,
  saveLinkUnlessNewer,
  type Link,
} from '../../store/links.ts';
import { claimPendingLink, dropClaim, takeOverClaim } from '../../store/linkClaims.ts';
import { recordActivity, resolveErrors, withWarnings } from '../../store/activity.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import type { FlowContext } from '../engine/context.ts';
import { z } from 'zod';
import { QUEUES } from '../engine/queues.ts';
import { defineFlow, defineJob, payload } from '../engine/flow.ts';
import { customerIdsWithEmail, rememberCustomer } from '../services/customerIndex.ts';
import { RetryLater, SyncError } from '../engine/errors.ts';
import {
  CUSTOMER_LINK,
  contactLabel,
  crmContactOf,
  isContactMissing,
  sideOf,
  syncedSnapshot,
} from '../services/contacts.ts';

/** The activity `flow` of CRM contacts becoming and following QuickBooks customers. */
export const CUSTOMERS_FLOW = 'customers';

const MAX_DISPLAY_NAME_ATTEMPTS = 8;

export interface CustomerResult {
  customerId: string;
  displayName: string;
  outcome: 'linked' | 'matched' | 'created';
}

/**
 * Customers being matched or created by a job of this process, by connection and contact. Another job of this
 * process that needs the same customer (a new contact's second payment) waits for it here, rather than being put
 * back on the queue for two seconds and reading the payment from HighLevel again.
 */
const creating = new Map<string, Promise<CustomerResult>>();

/** The QuickBooks customer of a CRM contact, matched or created once. `currency`: the document's currency. */
export async function customerForContact(
  ctx: FlowContext,
  contactId: string,
  currency?: string,
  linkRead?: Promise<Link | undefined>,
): Promise<CustomerResult> {
  // A link the caller read meanwhile (with the payment) answers the common case, a customer already linked.
  const known = linkRead ? await linkRead : undefined;
  if (known?.state === 'linked' && known.qboId)
    return { customerId: known.qboId, displayName: String(known.data.displayName ?? ''), outcome: 'linked' };
  const key = `${ctx.connection.id}:${contactId}`;
  const running = creating.get(key);
  if (running) {
    try {
      return await running;
    } catch {
      throw new RetryLater(`the customer of contact ${contactId} could not be made by another job; trying again`);
    }
  }
  const made = claimAndMake(ctx, contactId, currency);
  creating.set(key, made);
  try {
    return await made;
  } finally {
    creating.delete(key);
  }
}

async function claimAndMake(
  ctx: FlowContext,
  contactId: string,
  currency: string | undefined,
): Promise<CustomerResult> {
  const { db, connection } = ctx;
  const existing = await findLinkByCrmId(db, connection.id, 'customer', contactId);
  if (existing?.state === 'linked' && existing.qboId) {
    return { customerId: existing.qboId, displayName: String(existing.data.displayName ?? ''), outcome: 'linked' };
  }
  if (existing?.state === 'pending') {
    // Taken over only when abandoned by a dead worker: a failed attempt drops its claim (below), so a claim still
    // here is a live job's. The create below reuses the same requestid, so a create that reached QuickBooks before
    // the crash is returned, not repeated.
    if (!(await takeOverClaim(db, { connectionId: connection.id, kind: 'customer', crmId: contactId })))
      throw new RetryLater(`the customer of contact ${contactId} is being created by another job`);
  } else if (!existing && !(await claimPendingLink(db, connection.id, 'customer', contactId, 'crm'))) {
    throw new RetryLater(`the customer of contact ${contactId} is being created by another job`);
  }
  try {
    return await matchOrCreate(ctx, contactId, currency);
  } catch (error) {
    // Free the claim so that Retry (or the next payment of this contact) starts clean: QuickBooks' requestid makes
    // a repeated create safe, so this side needs no trace of the attempt.
    await dropClaim(db, { connectionId: connection.id, kind: 'customer', crmId: contactId });
    throw error;
  }
}

async function matchOrCreate(
  ctx: FlowContext,
  contactId: string,
  currency: string | undefined,
): Promise<CustomerResult> {
  const contact = await readContact(ctx, contactId);
  const crm = crmContactOf(contact);
  const label = contactLabel(contact);
  if (!contact.email || contact.email.trim() === '') {
    throw new SyncError(
      'contact-without-email',
      `Contact ${label} has no email, so it cannot be matched to a QuickBooks customer`,
      'Add an email address to the contact in HighLevel, then press Retry',
      { contactId },
    );
  }
  const email = checkEmail(contact.email);
  if (!email.ok) {
    throw new SyncError(
      'contact-invalid-email',
      `Contact ${label} has an invalid email (${email.reason})`,
      'Correct the email in HighLevel, then press Retry',
      { contactId },
    );
  }
  const company = await ctx.company();
  const [matchId] = await customerIdsWithEmail(ctx, email.email);
  const chosen = matchId ? await ctx.qbo.read('Customer', matchId) : undefined;
  if (chosen) {
    checkCurrency(chosen, currency, company.homeCurrency, label);
    const owner = await findLinkByQboId(ctx.db, ctx.connection.id, 'customer', chosen.Id);
    if (owner && owner.crmId !== contactId) {
      // Two CRM contacts share this email (the location allows duplicates): both use the same customer, which
      // stays linked to the first contact.
      await dropClaim(ctx.db, { connectionId: ctx.connection.id, kind: 'customer', crmId: contactId });
      return { customerId: chosen.Id, displayName: String(chosen.DisplayName), outcome: 'matched' };
    }
    const updated = await updateMatched(ctx, chosen, crm);
    // The matched customer keeps its DisplayName (the bookkeeper's choice): only the other fields' cuts apply.
    const cuts = qboCustomerForContact(crm).warnings.filter((w) => !w.startsWith('DisplayName'));
    await commitLink(
      ctx,
      contactId,
      updated,
      crm,
      withWarnings(
        `Matched contact ${label} to QuickBooks customer "${updated.DisplayName}" by email and updated it`,
        cuts,
      ),
      cuts,
    );
    return { customerId: updated.Id, displayName: String(updated.DisplayName), outcome: 'matched' };
  }
  const created = await createCustomer(
    ctx,
    crm,
    currency && currency !== company.homeCurrency && company.multiCurrency ? currency : undefined,
  );
  const cuts = qboCustomerForContact(crm).warnings;
  await commitLink(
    ctx,
    contactId,
    created,
    crm,
    withWarnings(`Created QuickBooks customer "${created.DisplayName}" for contact ${label}`, cuts),
    cuts,
  );
  return { customerId: created.Id, displayName: String(created.DisplayName), outcome: 'created' };
}

async function readContact(ctx: FlowContext, contactId: string): Promise<Contact> {
  try {
    return await ctx.hl.contacts.get(contactId);
  } catch (error) {
    if (isHighLevelNotFound(error)) {
      throw new SyncError(
        'contact-not-found',
        `HighLevel contact ${contactId} does not exist (deleted?)`,
        'Nothing to do if it was deleted on purpose; otherwise restore it and press Retry',
        { contactId },
      );
    }
    throw error;
  }
}

function checkCurrency(customer: Customer, currency: string | undefined, home: string, label: string): void {
  const customerCurrency = (customer.CurrencyRef as { value?: string } | undefined)?.value ?? home;
  if (currency && customerCurrency !== currency) {
    throw new SyncError(
      'customer-currency',
      `QuickBooks customer "${customer.DisplayName}" (contact ${label}) takes ${customerCurrency}, but the CRM document is in ${currency}`,
      "QuickBooks fixes a customer's currency at creation: record the payment in the customer's currency, or create a separate customer for this currency in QuickBooks",
      { customerId: customer.Id, customerCurrency, documentCurrency: currency },
    );
  }
}

/** Brings a matched customer up to date with the contact's fields (not its DisplayName, which the bookkeeper may have chosen). */
async function updateMatched(ctx: FlowContext, customer: Customer, crm: CrmContact): Promise<Customer> {
  const { customer: desired } = qboCustomerForContact(crm);
  const { DisplayName: _keep, BillAddr, ...rest } = desired;
  const fields = { ...rest, ...(BillAddr ? { BillAddr: { ...BillAddr } } : {}) };
  let current = customer;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await ctx.qbo.update(
        'Customer',
        {
          Id: current.Id,
          SyncToken: current.SyncToken,
          ...fields,
          ...(current.Active === false ? { Active: true } : {}),
        },
        {
          requestId: quickbooksRequestId({
            connectionId: ctx.connection.id,
            flow: CUSTOMERS_FLOW,
            sourceId: crm.id,
            sourceVersion: `update:${current.Id}:${current.SyncToken}`,
          }),
        },
      );
    } catch (error) {
      // Stale SyncToken: someone changed the customer meanwhile; read it again and re-apply (never overwrite blindly).
      if (!isStaleObject(error)) throw error;
      current = await ctx.qbo.read('Customer', current.Id);
    }
  }
  throw new Error(`QuickBooks customer ${customer.Id} kept changing while ledgerlink updated it`);
}

async function createCustomer(
  ctx: FlowContext,
  crm: CrmContact,
  foreignCurrency: string | undefined,
): Promise<Customer> {
  for (let attempt = 0; attempt < MAX_DISPLAY_NAME_ATTEMPTS; attempt++) {
    const { customer: mapped } = qboCustomerForContact(crm, { displayNameAttempt: attempt });
    const customer = { ...mapped, ...(mapped.BillAddr ? { BillAddr: { ...mapped.BillAddr } } : {}) };
    try {
      return await ctx.qbo.create(
        'Customer',
        { ...customer, ...(foreignCurrency ? { CurrencyRef: { value: foreignCurrency } } : {}) },
        {
          requestId: quickbooksRequestId({
            connectionId: ctx.connection.id,
            flow: CUSTOMERS_FLOW,
            sourceId: crm.id,
            sourceVersion: `create:${attempt}`,
          }),
        },
      );
    } catch (error) {
      // 6240: the DisplayName is taken by a customer, vendor or employee (inactive ones included): next candidate.
      if (!isDuplicateName(error)) throw error;
    }
  }
  throw new SyncError(
    'display-name-taken',
    `Every DisplayName ledgerlink tried for contact ${crm.id} is taken in QuickBooks`,
    'Rename the clashing customer, vendor or employee in QuickBooks, then press Retry',
    { contactId: crm.id },
  );
}

async function commitLink(
  ctx: FlowContext,
  contactId: string,
  customer: Customer,
  crm: CrmContact,
  message: string,
  warnings: readonly string[] = [],
): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    await rememberCustomer(tx, ctx.connection.id, customer);
    await saveLink(tx, {
      connectionId: ctx.connection.id,
      kind: 'customer',
      crmId: contactId,
      qboId: customer.Id,
      origin: 'crm',
      state: 'linked',
      snapshotHash: syncedContactHash(syncedFieldsFromContact(crm)),
      qboSyncToken: customer.SyncToken,
      qboUpdatedAt: String((customer.MetaData as { LastUpdatedTime?: string } | undefined)?.LastUpdatedTime ?? ''),
      crmUpdatedAt: null,
      data: { displayName: customer.DisplayName },
    });
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: CUSTOMERS_FLOW,
      status: 'ok',
      crmKind: 'contact',
      crmId: contactId,
      qboKind: 'Customer',
      qboId: customer.Id,
      message,
      ...(warnings.length > 0 ? { detail: { warnings } } : {}),
    });
    await resolveErrors(tx, ctx.connection.id, CUSTOMERS_FLOW, contactId);
  });
}

// ---------------------------------------------------------------------------------------------------------
// CRM contact changed (QUEUES.crmContact): its linked QuickBooks customer follows, for the fields the CRM may own.

/**
 * A contact changed in HighLevel. Only contacts already linked to a customer are followed (a customer is made for a
 * contact when it first pays, see customerForContact). A change whose synced fields hash the same as the link's
 * snapshot is ledgerlink's own write coming back, or a change to fields we do not sync (tags): nothing to do.
 */
export async function syncContactChange(
  ctx: FlowContext,
  contactId: string,
  event?: string,
  inboxId?: number,
): Promise<void> {
  if (event === 'ContactDelete') return; // a deleted contact leaves its QuickBooks customer (and its books) alone
  const link = await findLinkByCrmId(ctx.db, ctx.connection.id, 'customer', contactId);
  if (link?.state !== 'linked' || !link.qboId) return;
  // The webhook carries the contact's fields: when they hash as the snapshot (our own write echoing back, or a tag
  // change), no request is spent reading the contact. A payload missing fields hashes differently and is re-read.
  if (inboxId !== undefined) {
    const stored = await ctx.db.query<{ payload: unknown }>(`SELECT payload FROM inbox WHERE id = $1`, [inboxId]);
    const hinted = contactSchema.safeParse(
      typeof stored.rows[0]?.payload === 'string' ? JSON.parse(stored.rows[0].payload) : stored.rows[0]?.payload,
    );
    if (hinted.success && syncedContactHash(syncedFieldsFromContact(crmContactOf(hinted.data))) === link.snapshotHash)
      return;
  }
  let contact: Contact;
  try {
    contact = await ctx.hl.contacts.get(contactId);
  } catch (error) {
    if (isContactMissing(error)) return;
    throw error;
  }
  const crm = syncedFieldsFromContact(crmContactOf(contact));
  const hash = syncedContactHash(crm);
  if (hash === link.snapshotHash) return;
  let customer = await ctx.qbo.read('Customer', link.qboId);
  const lastCrm = syncedSnapshot(link.data.crmSynced);
  const write = fieldsToWrite('quickbooks', crm, syncedFieldsFromQboCustomer(customer), {
    origin: sideOf(link.origin),
    ...(lastCrm ? { lastSynced: lastCrm } : {}),
  });
  const changed = Object.keys(write);
  for (let attempt = 0; changed.length > 0; attempt++) {
    try {
      customer = await ctx.qbo.update(
        'Customer',
        { Id: customer.Id, SyncToken: customer.SyncToken, ...customerFieldsFor(write, customer) },
        {
          requestId: quickbooksRequestId({
            connectionId: ctx.connection.id,
            flow: CUSTOMERS_FLOW,
            sourceId: contactId,
            sourceVersion: `contact:${hash}:${customer.SyncToken}`,
          }),
        },
      );
      break;
    } catch (error) {
      // Stale SyncToken: the bookkeeper saved the customer meanwhile; read it again and re-apply.
      if (!isStaleObject(error) || attempt >= 2) throw error;
      customer = await ctx.qbo.read('Customer', customer.Id);
    }
  }
  const label = contactLabel(contact);
  await ctx.db.transaction(async (tx) => {
    if (changed.length > 0) await rememberCustomer(tx, ctx.connection.id, customer);
    // The QuickBooks side follows the same link from its own jobs: a later state it saved meanwhile stays.
    await saveLinkUnlessNewer(tx, {
      ...link,
      snapshotHash: hash,
      qboSyncToken: customer.SyncToken,
      qboUpdatedAt: String(customer.MetaData?.LastUpdatedTime ?? link.qboUpdatedAt ?? ''),
      crmUpdatedAt: contact.dateUpdated ?? null,
      data: {
        ...link.data,
        displayName: customer.DisplayName,
        crmSynced: crm,
        qboSynced: syncedFieldsFromQboCustomer(customer),
      },
    });
    if (changed.length > 0) {
      await recordActivity(tx, {
        connectionId: ctx.connection.id,
        flow: CUSTOMERS_FLOW,
        status: 'ok',
        crmKind: 'contact',
        crmId: contactId,
        qboKind: 'Customer',
        qboId: customer.Id,
        message: `Updated QuickBooks customer "${customer.DisplayName}" from contact ${label}: ${changed.join(', ')}`,
        detail: { fields: changed },
      });
      await resolveErrors(tx, ctx.connection.id, CUSTOMERS_FLOW, contactId);
    }
  });
}

/**
 * Synced fields -> a sparse Customer update. An address is sent whole (a sparse update replaces BillAddr), merged
 * over what QuickBooks holds. Emptied fields are not cleared in QuickBooks: the books keep what they had.
 */
function customerFieldsFor(write: Partial<SyncedContact>, current: Customer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (write.firstName) out.GivenName = write.firstName;
  if (write.lastName) out.FamilyName = write.lastName;
  if (write.companyName) out.CompanyName = write.companyName;
  if (write.email) out.PrimaryEmailAddr = { Address: write.email };
  if (write.phone) out.PrimaryPhone = { FreeFormNumber: write.phone };
  const address: Record<string, string> = {};
  if (write.address1) address.Line1 = write.address1;
  if (write.city) address.City = write.city;
  if (write.state) address.CountrySubDivisionCode = write.state;
  if (write.postalCode) address.PostalCode = write.postalCode;
  if (write.country) address.Country = write.country;
  if (Object.keys(address).length > 0) {
    const { Id: _id, ...kept } = current.BillAddr ?? {};
    // A CRM address line replaces all of QuickBooks' lines (the CRM has one line; QuickBooks' Line2/3 were joined into it).
    if (address.Line1) {
      delete kept.Line2;
      delete kept.Line3;
    }
    out.BillAddr = { ...kept, ...address };
  }
  return out;
}

// ---- the sweep of contact edits -------------------------------------------------------------------------------

const CONTACT_SWEEP_CURSOR = 'contact-sweep';
/** The engine offers sweeps with every poll; contacts are searched at most this often. */
const CONTACT_SWEEP_EVERY_MS = 5 * 60_000;
/** HighLevel's search index lags writes by a few seconds; each sweep looks this far behind the last one. */
const CONTACT_SWEEP_OVERLAP_MS = 10 * 60_000;

/**
 * HighLevel never redelivers a webhook that failed (only a 429 is retried), so a ContactUpdate lost to a restart
 * or a network fault would leave the QuickBooks customer behind until the contact's next change. The sweep asks
 * HighLevel for the contacts updated since the last sweep (with an overlap) and enqueues the contact job for each
 * one that has a QuickBooks customer and whose synced fields no longer hash as the last sync. One search request
 * per page of changed contacts; nothing when nothing changed.
 */
export async function sweepContacts(
  ctx: FlowContext,
  options: { now?: Date; minIntervalMs?: number } = {},
): Promise<{ seen: number; enqueued: number }> {
  const now = options.now ?? new Date();
  const cursor = await readCursor<{ since: string }>(ctx.db, ctx.connection.id, CONTACT_SWEEP_CURSOR);
  if (cursor && now.getTime() - Date.parse(cursor.since) < (options.minIntervalMs ?? CONTACT_SWEEP_EVERY_MS))
    return { seen: 0, enqueued: 0 };
  const from = cursor
    ? new Date(Date.parse(cursor.since) - CONTACT_SWEEP_OVERLAP_MS)
    : (ctx.connection.connectedAt ?? now);
  let seen = 0;
  let enqueued = 0;
  const backlog = ctx.queue.backlog(QUEUES.crmContact, ctx.connection.id);
  let page: Contact[] = [];
  const flush = async () => {
    if (page.length === 0) return;
    const links = await linksByCrmIds(
      ctx.db,
      ctx.connection.id,
      'customer',
      page.map((c) => c.id),
      'linked',
    );
    const hashes = new Map(links.map((link) => [link.crmId, link.snapshotHash]));
    for (const contact of page) {
      if (!hashes.has(contact.id)) continue;
      if (syncedContactHash(syncedFieldsFromContact(crmContactOf(contact))) === hashes.get(contact.id)) continue;
      const id = await ctx.queue.enqueue(
        QUEUES.crmContact,
        {
          connectionId: ctx.connection.id,
          key: `${ctx.connection.id}:contact:${contact.id}`,
          contactId: contact.id,
          event: 'sweep',
        },
        { priority: await backlog.next() },
      );
      if (id) enqueued += 1;
    }
    page = [];
  };
  for await (const contact of ctx.hl.contacts.searchAll(
    [{ field: 'dateUpdated', operator: 'range', value: { gte: from.toISOString() } }],
    100,
  )) {
    seen += 1;
    page.push(contact);
    if (page.length >= 100) await flush();
  }
  await flush();
  await writeCursor(ctx.db, ctx.connection.id, CONTACT_SWEEP_CURSOR, { since: now.toISOString() });
  return { seen, enqueued };
}

// ---------------------------------------------------------------------------------------------------------
// The flow's declaration (src/sync/engine/flow.ts).

export const customersFlow = defineFlow({
  name: CUSTOMERS_FLOW,
  summary: 'CRM contacts -> their QuickBooks customers (made at a first payment, then kept in step)',
  jobs: {
    crmContact: defineJob({
      queue: QUEUES.crmContact,
      payload: payload({
        contactId: z.string(),
        /** The webhook type (or 'sweep'), when the job comes from one. */
        event: z.string().optional(),
        /** The inbox row of the webhook that made the job (the echo check reads it). */
        inboxId: z.number().int().optional(),
      }),
      run: (ctx, data) => syncContactChange(ctx, data.contactId, data.event, data.inboxId),
      crmRef: (data) => ({ crmKind: 'contact', crmId: data.contactId }),
      logIds: (data) => ({ contactId: data.contactId }),
    }),
  },
  linkKinds: [CUSTOMER_LINK],
  events: {
    highlevel: {
      // ContactDndUpdate changes nothing ledgerlink syncs (dnd is not a QuickBooks customer field).
      contact: ({ type, recordId }) =>
        type === 'ContactDndUpdate'
          ? undefined
          : { job: 'crmContact', key: `contact:${recordId}`, data: { contactId: recordId, event: type } },
    },
  },
  sweep: (ctx, options) => sweepContacts(ctx, options),
  reconciles: [{ kind: 'customers', writes: 'quickbooks', job: 'crmContact' }],
});
