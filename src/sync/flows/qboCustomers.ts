// QuickBooks customers -> CRM contacts, one customer at a time: a customer created, changed, made inactive or
// "deleted" in QuickBooks (webhooks and the change-data-capture poller, changeCapture.ts) and each customer of the
// initial import (contactImport.ts). Matching is by normalised email; ownership of each field is decided by
// fieldsToWrite (docs/field-ownership.md).
//
// HighLevel has no idempotency key, so a contact create is guarded by a pending link claimed on the QuickBooks
// side (crm_id is unknown until the contact exists): a crash between the create and the commit leaves the claim
// marked `mayExist`, and the next attempt looks the contact up (email, phone, then the `source` marker) before
// creating anything.
import { z } from 'zod';
import { defineFlow, defineJob, payload } from '../engine/flow.ts';
import { QUEUES } from '../engine/queues.ts';
import { randomUUID } from 'node:crypto';
import type { Contact, ContactInput } from '../../highlevel/contacts.ts';
import { HighLevelError, isDuplicateContact } from '../../highlevel/errors.ts';
import { isInvalidId as isQuickBooksInvalidId, isNotFound as isQuickBooksNotFound } from '../../quickbooks/errors.ts';
import type { Customer } from '../../quickbooks/entities.ts';
import { checkEmail } from '../../domain/email.ts';
import {
  contactFieldsForQboCustomer,
  CONTACT_FIELD_OWNERSHIP,
  fieldsToWrite,
  SYNCED_CONTACT_FIELDS,
  syncedContactHash,
  syncedFieldsFromContact,
  syncedFieldsFromQboCustomer,
  type SyncedContact,
  type SyncedContactField,
} from '../../domain/customer.ts';
import {
  findLinkByCrmId,
  findLinkByQboId,
  rememberSyncToken,
  saveLink,
  saveLinkUnlessNewer,
  type Link,
} from '../../store/links.ts';
import {
  claimRecord,
  commitClaim,
  dropAbandonedClaim,
  dropClaim,
  releaseClaim,
  takeOverClaim,
} from '../../store/linkClaims.ts';
import { recordActivity, resolveErrors } from '../../store/activity.ts';
import type { FlowContext } from '../engine/context.ts';
import { rememberCustomer } from '../services/customerIndex.ts';
import {
  CUSTOMER_LINK,
  contactLabel,
  crmContactOf,
  isContactMissing,
  sideOf,
  syncedSnapshot,
} from '../services/contacts.ts';
import { RetryLater, SyncError } from '../engine/errors.ts';

export const CONTACTS_FLOW = 'contacts';
/** Added to a contact whose QuickBooks customer is made inactive or deleted (QuickBooks never hard-deletes customers). */
export const INACTIVE_TAG = 'quickbooks inactive';

export type ContactOutcome = {
  outcome: 'created' | 'matched' | 'updated' | 'unchanged' | 'skipped';
  contactId?: string;
  reason?: string;
};

const NONE: ReadonlySet<string> = new Set();

/** QUEUES.qboCustomer: a customer was created, changed, made inactive or "deleted" in QuickBooks. */
export async function syncQboCustomer(ctx: FlowContext, customerId: string): Promise<ContactOutcome> {
  let customer: Customer;
  try {
    customer = await ctx.qbo.read('Customer', customerId);
  } catch (error) {
    if (isQuickBooksInvalidId(error)) {
      throw new SyncError(
        'quickbooks-invalid-customer-id',
        `"${customerId}" is not a QuickBooks customer id (QuickBooks answered 2030 Invalid ID); nothing was changed`,
        'Check the event or job that named this id; no retry will help',
        { customerId },
      );
    }
    if (!isQuickBooksNotFound(error)) throw error;
    // Customers are never hard-deleted in QuickBooks; a customer that cannot be read is treated as deleted.
    const link = await findLinkByQboId(ctx.db, ctx.connection.id, 'customer', customerId);
    if (link?.state === 'linked') await markInactive(ctx, link, customerId);
    return { outcome: 'skipped', reason: 'the customer no longer exists in QuickBooks' };
  }
  await rememberCustomer(ctx.db, ctx.connection.id, customer);
  return syncCustomer(ctx, customer, 'live');
}

/** The CRM contact of a QuickBooks customer, bringing the customer over first when it is not yet linked. */
export async function contactIdForCustomer(ctx: FlowContext, customerId: string): Promise<string | undefined> {
  const link = await findLinkByQboId(ctx.db, ctx.connection.id, 'customer', customerId);
  if (link?.state === 'linked') return link.crmId;
  const result = await syncQboCustomer(ctx, customerId);
  return result.contactId;
}

/**
 * `absent`: emails the import found in no CRM contact a moment ago (emailsNotInCrm); a customer with one of them is
 * created without its own duplicate look-up.
 */
export async function syncCustomer(
  ctx: FlowContext,
  customer: Customer,
  mode: 'import' | 'live',
  absent: ReadonlySet<string> = NONE,
): Promise<ContactOutcome> {
  const link = await findLinkByQboId(ctx.db, ctx.connection.id, 'customer', customer.Id);
  if (link?.state === 'linked') return updateLinkedContact(ctx, customer, link, mode);
  if (link?.state === 'skipped') return { outcome: 'skipped', reason: String(link.data.reason ?? '') };
  const holder = randomUUID();
  let mayExist = false;
  if (link?.state === 'pending') {
    // A failed attempt releases its claim (holder cleared) instead of dropping it: the contact it may have created
    // is looked up by the next attempt, which takes the released claim at once.
    const taken = await takeOverClaim(ctx.db, claimOf(ctx, customer.Id), { holder, releasedIsFree: true });
    if (!taken) throw new RetryLater(`QuickBooks customer ${customer.Id} is being brought into the CRM by another job`);
    mayExist = taken.mayExist;
  } else {
    // Never seen and already inactive: nothing worth creating in the CRM.
    if (customer.Active === false) return { outcome: 'skipped', reason: 'inactive in QuickBooks' };
    // mayExist from the start: a claim that outlives a failure always makes the next attempt look before it creates.
    const claimed = await claimRecord(ctx.db, {
      connectionId: ctx.connection.id,
      kind: 'customer',
      crmId: placeholder(customer.Id),
      qboId: customer.Id,
      origin: 'qbo',
      data: { holder, mayExist: true },
    });
    if (!claimed)
      throw new RetryLater(`QuickBooks customer ${customer.Id} is being brought into the CRM by another job`);
  }
  try {
    return await matchOrCreateContact(ctx, customer, mode, holder, mayExist, absent);
  } catch (error) {
    await releaseClaim(ctx.db, claimOf(ctx, customer.Id), holder);
    throw error;
  }
}

// Claims live on the QuickBooks side: crm_id is a placeholder until the contact exists (links are keyed by crm_id).
const placeholder = (customerId: string) => `qbo-customer:${customerId}`;
const claimOf = (ctx: FlowContext, customerId: string) =>
  ({ connectionId: ctx.connection.id, kind: 'customer', qboId: customerId }) as const;

/** The marker written in a created contact's `source`, so a create whose answer was lost can be found again. */
export const contactSourceFor = (customerId: string) => `QuickBooks customer ${customerId}`;

async function matchOrCreateContact(
  ctx: FlowContext,
  customer: Customer,
  mode: 'import' | 'live',
  _holder: string,
  mayExist: boolean,
  absent: ReadonlySet<string>,
): Promise<ContactOutcome> {
  const fields = contactFieldsForQboCustomer(customer);
  const rawEmail = customer.PrimaryEmailAddr?.Address?.split(/[,;]/)[0]?.trim() ?? '';
  const unmatchable =
    rawEmail === ''
      ? 'it has no email in QuickBooks'
      : fields.email
        ? undefined
        : `its email is not valid (${invalidReason(rawEmail)})`;
  let contact: Contact | undefined;
  let how: 'matched' | 'created' = 'matched';
  let matchedBy = 'email';
  let createNote: string | undefined;
  if (fields.email && !absent.has(fields.email)) contact = await ctx.hl.contacts.findDuplicate({ email: fields.email });
  if (!contact && mayExist) {
    contact = await findCreatedEarlier(ctx, customer.Id, fields.phone);
    matchedBy = 'an earlier attempt';
    if (contact) how = 'created';
  }
  // A contact created just now needs none of the checks below; one found, or adopted because HighLevel refused a
  // second contact with this email (a search that lagged, or a create racing ours), goes through all of them.
  let fresh = false;
  if (!contact) {
    const created = await createContact(ctx, customer);
    contact = created.contact;
    createNote = created.note;
    if (created.adopted) matchedBy = 'email (HighLevel refused a second contact with it)';
    else {
      how = 'created';
      fresh = true;
    }
  }
  if (!fresh) {
    let owner = await findLinkByCrmId(ctx.db, ctx.connection.id, 'customer', contact.id);
    if (
      owner?.state === 'pending' &&
      (await dropAbandonedClaim(ctx.db, { connectionId: ctx.connection.id, kind: 'customer', crmId: contact.id }))
    ) {
      // The CRM-side job that claimed this contact died and nothing retried it: the QuickBooks customer it had
      // created comes back by webhook and would wait on the dead claim for ever. The contact and this customer share
      // the email, which is the match that job would make: the claim goes, and this job links them.
      owner = undefined;
    }
    if (owner?.state === 'pending') {
      // The CRM-side flow is creating this very customer for this contact (its webhook beat its commit). Nothing was
      // created here, so the claim goes at once: it would otherwise block that flow's link on the same QuickBooks id.
      await dropClaim(ctx.db, claimOf(ctx, customer.Id));
      throw new RetryLater(`contact ${contact.id} is being linked by another job`);
    }
    if (owner && owner.qboId !== customer.Id) {
      const sharedWith = contact.id;
      const reason = `its email ${fields.email ?? ''} belongs to contact ${contactLabel(contact)}, already linked to QuickBooks customer ${owner.qboId ?? '?'}`;
      await ctx.db.transaction(async (tx) => {
        await dropClaim(tx, claimOf(ctx, customer.Id));
        await saveLink(tx, {
          connectionId: ctx.connection.id,
          kind: 'customer',
          crmId: placeholder(customer.Id),
          qboId: customer.Id,
          origin: 'qbo',
          state: 'skipped',
          snapshotHash: null,
          qboSyncToken: customer.SyncToken,
          qboUpdatedAt: null,
          crmUpdatedAt: null,
          data: { reason, sharedWith },
        });
        await recordActivity(tx, {
          connectionId: ctx.connection.id,
          flow: CONTACTS_FLOW,
          status: 'skipped',
          crmKind: 'contact',
          crmId: sharedWith,
          qboKind: 'Customer',
          qboId: customer.Id,
          message: `QuickBooks customer "${customer.DisplayName}" not linked: ${reason}`,
          detail: { fix: 'Merge the two customers in QuickBooks, or give one of them another email' },
        });
      });
      return { outcome: 'skipped', contactId: sharedWith, reason };
    }
    if (how === 'matched') {
      // A contact that already existed keeps what it holds; QuickBooks fills what it lacks, and brings the billing address
      // it owns for customers it created (fieldsToWrite with origin 'quickbooks').
      const current = syncedFieldsFromContact(crmContactOf(contact));
      const write = onlyBlanksForShared(
        fieldsToWrite('crm', syncedFieldsFromQboCustomer(customer), current, { origin: 'quickbooks' }),
        current,
      );
      if (Object.keys(write).length > 0) contact = await updateContact(ctx, contact, write, customer);
    }
  }
  const active = customer.Active !== false;
  if (!active) await ctx.hl.contacts.addTags(contact.id, [INACTIVE_TAG]);
  const crmFields = syncedFieldsFromContact(crmContactOf(contact));
  const qboFields = syncedFieldsFromQboCustomer(customer);
  const label = contactLabel(contact);
  await ctx.db.transaction(async (tx) => {
    const committed = await commitClaim(tx, claimOf(ctx, customer.Id), {
      crmId: contact.id,
      origin: 'qbo',
      snapshotHash: syncedContactHash(crmFields),
      qboSyncToken: customer.SyncToken,
      qboUpdatedAt: customer.MetaData?.LastUpdatedTime ?? null,
      crmUpdatedAt: contact.dateUpdated ?? null,
      data: {
        displayName: customer.DisplayName,
        qboSynced: qboFields,
        crmSynced: crmFields,
        inactive: !active,
        ...(unmatchable ? { unmatchable } : {}),
      },
    });
    // The contact was linked to this customer's twin by the CRM-side flow a moment ago (crm ids are unique).
    if (committed === 'crm-id-taken') throw new RetryLater(`contact ${contact.id} was linked by another job meanwhile`);
    if (committed === 'claim-lost')
      throw new RetryLater(`the claim on QuickBooks customer ${customer.Id} was taken over`);
    if (unmatchable) {
      await recordActivity(tx, {
        connectionId: ctx.connection.id,
        flow: CONTACTS_FLOW,
        status: 'info',
        crmKind: 'contact',
        crmId: contact.id,
        qboKind: 'Customer',
        qboId: customer.Id,
        message: `Brought QuickBooks customer "${customer.DisplayName}" over as contact ${label} by name and phone only: ${unmatchable}, so it cannot be matched by email later`,
        detail: {
          reason: unmatchable,
          fix: 'Add an email to the customer in QuickBooks (or to the contact in HighLevel) so both sides can be matched',
        },
      });
    } else if (mode === 'live' || createNote) {
      await recordActivity(tx, {
        connectionId: ctx.connection.id,
        flow: CONTACTS_FLOW,
        status: 'ok',
        crmKind: 'contact',
        crmId: contact.id,
        qboKind: 'Customer',
        qboId: customer.Id,
        message:
          how === 'created'
            ? `Created contact ${label} for QuickBooks customer "${customer.DisplayName}"${createNote ? `; ${createNote}` : ''}`
            : `Matched QuickBooks customer "${customer.DisplayName}" to contact ${label} by ${matchedBy}`,
      });
    }
    if (mode === 'live') await resolveErrors(tx, ctx.connection.id, CONTACTS_FLOW, placeholder(customer.Id));
  });
  return { outcome: how, contactId: contact.id };
}

/** A contact created by an attempt whose answer was lost: by phone, else by the `source` marker it carries. */
async function findCreatedEarlier(
  ctx: FlowContext,
  customerId: string,
  phone: string | undefined,
): Promise<Contact | undefined> {
  const marker = contactSourceFor(customerId);
  if (phone) {
    const byPhone = await ctx.hl.contacts.findDuplicate({ phone });
    if (byPhone && byPhone.source === marker) return byPhone;
  }
  const found = await ctx.hl.contacts.search({
    filters: [{ field: 'source', operator: 'eq', value: marker }],
    pageLimit: 10,
  });
  const hit = found.contacts.find((c) => c.source === marker) ?? found.contacts[0];
  return hit ? ctx.hl.contacts.get(hit.id) : undefined;
}

async function createContact(
  ctx: FlowContext,
  customer: Customer,
): Promise<{ contact: Contact; note?: string; adopted?: true }> {
  const fields = contactFieldsForQboCustomer(customer);
  const input: ContactInput = { ...fields, source: contactSourceFor(customer.Id) };
  try {
    return { contact: await ctx.hl.contacts.create(input) };
  } catch (error) {
    // The location forbids duplicates and another contact holds this phone (the email was looked up already, so that
    // contact is someone else, e.g. a shared office line): create without the phone rather than merge two people.
    if (isDuplicateContact(error) && input.phone && error.meta?.matchingField !== 'email') {
      const { phone: _shared, ...rest } = input;
      const note = `its phone ${input.phone} was left out: HighLevel contact ${error.duplicateContactId} already has it and the location forbids duplicates`;
      return { contact: await createOrRefuse(ctx, customer, rest), note };
    }
    if (isDuplicateContact(error)) {
      // Same email after all (a create racing ours, or a contact the import's search did not see yet): that contact
      // is the match, and the caller checks it as one it had found.
      return { contact: await ctx.hl.contacts.get(error.duplicateContactId), adopted: true };
    }
    throw refusal(customer, error);
  }
}

async function createOrRefuse(ctx: FlowContext, customer: Customer, input: ContactInput): Promise<Contact> {
  try {
    return await ctx.hl.contacts.create(input);
  } catch (error) {
    throw refusal(customer, error);
  }
}

function refusal(customer: Customer, error: unknown): unknown {
  if (error instanceof HighLevelError && (error.status === 400 || error.status === 422)) {
    return new SyncError(
      'contact-refused',
      `HighLevel refused a contact for QuickBooks customer "${customer.DisplayName}" (${customer.Id}): ${error.message}`,
      'Correct the customer in QuickBooks (name, email, phone), then press Retry',
      { customerId: customer.Id, status: error.status },
    );
  }
  return error;
}

// ---------------------------------------------------------------------------------------------------------
// A linked customer changed

async function updateLinkedContact(
  ctx: FlowContext,
  customer: Customer,
  link: Link,
  mode: 'import' | 'live',
): Promise<ContactOutcome> {
  const active = customer.Active !== false;
  const wasInactive = link.data.inactive === true;
  // Our own write (SyncToken recorded when ledgerlink wrote the customer) or an event already handled.
  if (link.qboSyncToken === customer.SyncToken && wasInactive === !active)
    return { outcome: 'unchanged', contactId: link.crmId };
  // The import only brings customers over; a change to one already linked is the webhook's (or the poller's) to sync,
  // so the link is left untouched here (remembering the new SyncToken would make that job skip the change).
  if (mode === 'import') return { outcome: 'unchanged', contactId: link.crmId };
  const desired = syncedFieldsFromQboCustomer(customer);
  const lastQbo = syncedSnapshot(link.data.qboSynced);
  if (lastQbo && syncedContactHash(lastQbo) === syncedContactHash(desired) && wasInactive === !active) {
    // Only fields we do not sync changed (Balance after an invoice, notes...): remember the new SyncToken quietly.
    await rememberSyncToken(ctx.db, ctx.connection.id, 'customer', link.crmId, customer.SyncToken);
    return { outcome: 'unchanged', contactId: link.crmId };
  }
  let contact: Contact;
  try {
    contact = await ctx.hl.contacts.get(link.crmId);
  } catch (error) {
    if (!isContactMissing(error)) throw error;
    await recordActivity(ctx.db, {
      connectionId: ctx.connection.id,
      flow: CONTACTS_FLOW,
      status: 'skipped',
      crmKind: 'contact',
      crmId: link.crmId,
      qboKind: 'Customer',
      qboId: customer.Id,
      message: `QuickBooks customer "${customer.DisplayName}" changed, but its contact ${link.crmId} was deleted in the CRM; it is not recreated`,
    });
    await rememberSyncToken(ctx.db, ctx.connection.id, 'customer', link.crmId, customer.SyncToken);
    return { outcome: 'skipped', contactId: link.crmId, reason: 'contact deleted in the CRM' };
  }
  const current = syncedFieldsFromContact(crmContactOf(contact));
  const write = fieldsToWrite('crm', desired, current, {
    origin: sideOf(link.origin),
    ...(lastQbo ? { lastSynced: lastQbo } : {}),
  });
  const changed = Object.keys(write);
  if (changed.length > 0) contact = await updateContact(ctx, contact, write, customer);
  if (!active && !wasInactive) await ctx.hl.contacts.addTags(contact.id, [INACTIVE_TAG]);
  if (active && wasInactive) await ctx.hl.contacts.removeTags(contact.id, [INACTIVE_TAG]);
  const crmFields = syncedFieldsFromContact(crmContactOf(contact));
  const label = contactLabel(contact);
  await ctx.db.transaction(async (tx) => {
    // The CRM side follows the same link from its own jobs: a later state it saved meanwhile stays.
    await saveLinkUnlessNewer(tx, {
      ...link,
      state: 'linked',
      snapshotHash: syncedContactHash(crmFields),
      qboSyncToken: customer.SyncToken,
      qboUpdatedAt: customer.MetaData?.LastUpdatedTime ?? null,
      crmUpdatedAt: contact.dateUpdated ?? null,
      data: {
        ...link.data,
        displayName: customer.DisplayName,
        qboSynced: desired,
        crmSynced: crmFields,
        inactive: !active,
      },
    });
    const notes: string[] = [];
    if (changed.length > 0) notes.push(`updated ${changed.join(', ')}`);
    if (!active && !wasInactive)
      notes.push(`tagged "${INACTIVE_TAG}" (the customer is inactive or deleted in QuickBooks)`);
    if (active && wasInactive) notes.push(`removed the "${INACTIVE_TAG}" tag (the customer is active again)`);
    if (notes.length > 0) {
      await recordActivity(tx, {
        connectionId: ctx.connection.id,
        flow: CONTACTS_FLOW,
        status: 'ok',
        crmKind: 'contact',
        crmId: contact.id,
        qboKind: 'Customer',
        qboId: customer.Id,
        message: `Contact ${label} from QuickBooks customer "${customer.DisplayName}": ${notes.join('; ')}`,
        detail: { fields: changed },
      });
    }
    await resolveErrors(tx, ctx.connection.id, CONTACTS_FLOW, contact.id);
  });
  return { outcome: changed.length > 0 ? 'updated' : 'unchanged', contactId: contact.id };
}

async function markInactive(ctx: FlowContext, link: Link, customerId: string): Promise<void> {
  if (link.data.inactive === true) return;
  await ctx.hl.contacts.addTags(link.crmId, [INACTIVE_TAG]);
  await ctx.db.transaction(async (tx) => {
    await saveLinkUnlessNewer(tx, { ...link, data: { ...link.data, inactive: true } });
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: CONTACTS_FLOW,
      status: 'ok',
      crmKind: 'contact',
      crmId: link.crmId,
      qboKind: 'Customer',
      qboId: customerId,
      message: `Tagged contact ${link.crmId} "${INACTIVE_TAG}": its QuickBooks customer ${customerId} was deleted`,
    });
  });
}

async function updateContact(
  ctx: FlowContext,
  contact: Contact,
  write: Partial<SyncedContact>,
  customer: Customer,
): Promise<Contact> {
  const input = contactInputFor(write);
  if (Object.keys(input).length === 0) return contact;
  try {
    return await ctx.hl.contacts.update(contact.id, input);
  } catch (error) {
    if (isDuplicateContact(error)) {
      throw new SyncError(
        'contact-email-taken',
        `Contact ${contactLabel(contact)} could not take the ${String(error.meta?.matchingField ?? 'email')} of QuickBooks customer "${customer.DisplayName}": contact ${error.duplicateContactId} already has it`,
        'Merge the two contacts in HighLevel, then press Retry',
        { contactId: contact.id, customerId: customer.Id, otherContactId: error.duplicateContactId },
      );
    }
    throw error;
  }
}

/** Synced fields -> HighLevel contact input. HighLevel wants ISO alpha-2 countries: anything else stays out. */
export function contactInputFor(write: Partial<SyncedContact>): ContactInput {
  const input: ContactInput = {};
  for (const field of SYNCED_CONTACT_FIELDS) {
    if (!(field in write)) continue;
    const value = write[field] ?? null;
    if (field === 'country' && value !== null && !/^[A-Z]{2}$/.test(value)) continue;
    input[field] = value;
  }
  return input;
}

const BOTH_SIDES: ReadonlySet<string> = new Set(
  CONTACT_FIELD_OWNERSHIP.filter((r) => r.owner.kind === 'both').map((r) => r.field),
);

/** On a first match, fields either side may own are only filled where the contact has nothing. */
function onlyBlanksForShared(write: Partial<SyncedContact>, current: SyncedContact): Partial<SyncedContact> {
  const out: { [K in SyncedContactField]?: string | null } = {};
  for (const field of SYNCED_CONTACT_FIELDS) {
    if (!(field in write)) continue;
    if (BOTH_SIDES.has(field) && current[field] !== null) continue;
    out[field] = write[field] ?? null;
  }
  return out;
}

function invalidReason(raw: string): string {
  const check = checkEmail(raw);
  return check.ok ? 'too long' : check.reason;
}

// ---------------------------------------------------------------------------------------------------------
// The live customer sync's declaration (src/sync/engine/flow.ts); the import of the customers that existed at
// connection is its own flow (contactImport.ts); both record their activity as 'contacts'.

export const qboCustomersFlow = defineFlow({
  name: CONTACTS_FLOW,
  summary: 'QuickBooks customers -> CRM contacts, as they change',
  jobs: {
    qboCustomer: defineJob({
      queue: QUEUES.qboCustomer,
      payload: payload({ customerId: z.string(), operation: z.string().optional() }),
      run: (ctx, data) => syncQboCustomer(ctx, data.customerId),
      logIds: (data) => ({ customerId: data.customerId }),
    }),
  },
  linkKinds: [CUSTOMER_LINK],
  events: {
    quickbooks: {
      Customer: ({ entityId, operation }) => ({
        job: 'qboCustomer',
        key: `customer:${entityId}`,
        data: { customerId: entityId, operation },
      }),
    },
  },
  reconciles: [{ kind: 'customers', writes: 'crm', job: 'qboCustomer' }],
});
