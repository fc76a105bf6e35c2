// QuickBooks customers -> CRM contacts. At connection every existing customer is brought over (paged through the
// query API, resumable from a saved cursor, progress as {done, total}); afterwards each new or changed customer
// follows, from webhooks and from the change-data-capture poller (changeCapture.ts). Matching is by normalised
// email; ownership of each field is decided by fieldsToWrite (docs/field-ownership.md).
//
// HighLevel has no idempotency key, so a contact create is guarded by a pending link claimed on the QuickBooks
// side (crm_id is unknown until the contact exists): a crash between the create and the commit leaves the claim
// marked `mayExist`, and the next attempt looks the contact up (email, phone, then the `source` marker) before
// creating anything.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Contact, ContactInput, SearchFilter } from '../../highlevel/contacts.ts';
import { HighLevelError, isDuplicateContact } from '../../highlevel/errors.ts';
import { isInvalidId as isQuickBooksInvalidId, isNotFound as isQuickBooksNotFound } from '../../quickbooks/errors.ts';
import type { Customer } from '../../quickbooks/entities.ts';
import { count, select } from '../../quickbooks/query.ts';
import { checkEmail, normalizeEmail } from '../../domain/email.ts';
import {
  contactFieldsForQboCustomer,
  CONTACT_FIELD_OWNERSHIP,
  fieldsToWrite,
  SYNCED_CONTACT_FIELDS,
  syncedContactHash,
  syncedFieldsFromContact,
  syncedFieldsFromQboCustomer,
  type Side,
  type SyncedContact,
  type SyncedContactField,
} from '../../domain/customer.ts';
import { findLinkByCrmId, findLinkByQboId, saveLink, type Link } from '../../store/links.ts';
import { recordActivity, resolveErrors } from '../../store/activity.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import type { FlowContext } from '../engine/context.ts';
import { rememberCustomer, rememberCustomers } from '../services/customerIndex.ts';
import { crmContactOf, contactLabel, customerClaimAbandoned } from './customers.ts';
import { keepDailyReserve } from '../services/dailyReserve.ts';
import { RetryLater, SyncError } from '../engine/errors.ts';
import { QUEUES } from '../engine/queues.ts';
import { defineFlow, defineJob, payload } from '../engine/flow.ts';

export const CONTACTS_FLOW = 'contacts';
/** Added to a contact whose QuickBooks customer is made inactive or deleted (QuickBooks never hard-deletes customers). */
export const INACTIVE_TAG = 'quickbooks inactive';
export const CUSTOMER_IMPORT_CURSOR = 'customer-import';

const PAGE_SIZE = 200;
/** A job imports for about this long, saves its cursor and queues the next slice, so a stop never waits long. */
const SLICE_MS = 8_000;
/** Customers of one page handled at once (HighLevel's limiter paces the requests). */
const PARALLEL = 8;
/** A claim whose holder stopped answering for this long is taken over. */
const ABANDONED_CLAIM_MS = 2 * 60_000;

export interface ImportProgress {
  /** Next STARTPOSITION (1-based). */
  position: number;
  done: number;
  total: number;
  created: number;
  matched: number;
  skipped: number;
  failed: number;
  startedAt: string;
  finishedAt?: string;
}

export type ContactOutcome = {
  outcome: 'created' | 'matched' | 'updated' | 'unchanged' | 'skipped';
  contactId?: string;
  reason?: string;
};

export const importCustomersKey = (connectionId: string) => `${connectionId}:import:customers`;

// ---------------------------------------------------------------------------------------------------------
// Initial import

/** One slice of the initial import; queues the next slice until every customer has been seen. */
export async function importCustomers(ctx: FlowContext): Promise<ImportProgress> {
  const { db, connection } = ctx;
  let progress = await readCursor<ImportProgress>(db, connection.id, CUSTOMER_IMPORT_CURSOR);
  if (progress?.finishedAt) return progress;
  if (!progress) {
    // Inactive customers are counted and paged too: the set only grows while we page, so positions never skip one.
    const total = await ctx.qbo.count(count('Customer').includeInactive());
    progress = {
      position: 1,
      done: 0,
      total,
      created: 0,
      matched: 0,
      skipped: 0,
      failed: 0,
      startedAt: new Date().toISOString(),
    };
    await writeCursor(db, connection.id, CUSTOMER_IMPORT_CURSOR, progress);
    await recordActivity(db, {
      connectionId: connection.id,
      flow: CONTACTS_FLOW,
      status: 'info',
      message: `Bringing ${total} QuickBooks customers into the CRM`,
    });
  }
  const started = Date.now();
  while (Date.now() - started < SLICE_MS) {
    await keepDailyReserve(ctx, CONTACTS_FLOW, 'The customer import');
    const page = await ctx.qbo.query(
      select('Customer').includeInactive().orderBy('Id').page(progress.position, PAGE_SIZE),
    );
    if (page.length > 0) {
      await rememberCustomers(db, connection.id, page);
      const absent = await emailsNotInCrm(ctx, page);
      const outcomes = [];
      for (const round of roundsByEmail(page))
        outcomes.push(...(await mapLimit(round, PARALLEL, (customer) => importOne(ctx, customer, absent))));
      for (const o of outcomes)
        progress[o === 'created' ? 'created' : o === 'matched' ? 'matched' : o === 'failed' ? 'failed' : 'skipped'] +=
          1;
      progress.position += page.length;
      progress.done += page.length;
      progress.total = Math.max(progress.total, progress.done);
    }
    if (page.length < PAGE_SIZE) {
      progress.finishedAt = new Date().toISOString();
      progress.total = progress.done;
      await writeCursor(db, connection.id, CUSTOMER_IMPORT_CURSOR, progress);
      await recordActivity(db, {
        connectionId: connection.id,
        flow: CONTACTS_FLOW,
        status: 'info',
        message: `Brought ${progress.done} QuickBooks customers into the CRM: ${progress.created} contacts created, ${progress.matched} matched by email, ${progress.skipped} skipped, ${progress.failed} failed`,
        detail: { ...progress },
      });
      if (connection.importOldInvoices) {
        await ctx.queue.enqueue(QUEUES.importInvoices, {
          connectionId: connection.id,
          key: `${connection.id}:import:invoices`,
        });
      }
      return progress;
    }
    await writeCursor(db, connection.id, CUSTOMER_IMPORT_CURSOR, progress);
  }
  await ctx.queue.enqueue(QUEUES.importCustomers, {
    connectionId: connection.id,
    key: importCustomersKey(connection.id),
  });
  return progress;
}

/**
 * A page in rounds, the k-th customer with a given email in round k: customers sharing an email never run side by
 * side, so the second looks up after the first has made its contact (both would otherwise find none and create
 * two, where the location allows duplicates). Almost every page is one round.
 */
function roundsByEmail(page: readonly Customer[]): Customer[][] {
  const rounds: Customer[][] = [];
  const seen = new Map<string, number>();
  for (const customer of page) {
    const email = contactFieldsForQboCustomer(customer).email;
    const k = email ? (seen.get(email) ?? 0) : 0;
    if (email) seen.set(email, k + 1);
    (rounds[k] ??= []).push(customer);
  }
  return rounds;
}

const NONE: ReadonlySet<string> = new Set();
/** Emails per search: an OR group of this many `eq` conditions (HighLevel documents no limit; kept modest). */
const EMAILS_PER_SEARCH = 50;

/**
 * The emails of a page of customers that no CRM contact holds, found with one contact search per 50 emails instead
 * of a duplicate look-up per customer: the import then costs HighLevel one call a customer (the create) instead of
 * two, and HighLevel's limit is what binds an import (docs/performance.md, finding 20).
 *
 * HighLevel's search index lags writes by a few seconds (reference §2.3), so "not found" is trusted only where the
 * lag cannot hide our own work: an email that two customers of the page share, or that belongs to any customer of
 * this connection with a link or a claim (a contact we created, perhaps moments ago, or one a failed attempt may
 * have created), is left to the per-customer look-up. What the lag can still hide is a contact someone else created
 * in HighLevel in the seconds before the search: where the location forbids duplicates, the create is refused
 * and adopts that contact (createContact); where it allows them, that contact and ours share the email, as they
 * would had it been created a moment after a look-up. A search HighLevel refuses (400/422) falls back to look-ups.
 */
async function emailsNotInCrm(ctx: FlowContext, page: readonly Customer[]): Promise<ReadonlySet<string>> {
  const seen = new Map<string, number>();
  for (const customer of page) {
    const email = contactFieldsForQboCustomer(customer).email;
    if (email && customer.Active !== false) seen.set(email, (seen.get(email) ?? 0) + 1);
  }
  const candidates = new Set([...seen].filter(([, n]) => n === 1).map(([email]) => email));
  if (candidates.size === 0) return NONE;
  const ours = await ctx.db.query<{ email: string }>(
    `SELECT DISTINCT c.email FROM qbo_customers c JOIN links l ON l.connection_id = c.connection_id AND l.kind = 'customer' AND l.qbo_id = c.qbo_id
     WHERE c.connection_id = $1 AND c.email = ANY($2::text[])`,
    [ctx.connection.id, [...candidates]],
  );
  for (const row of ours.rows) candidates.delete(row.email);
  const emails = [...candidates];
  try {
    for (let i = 0; i < emails.length; i += EMAILS_PER_SEARCH) {
      const chunk = emails.slice(i, i + EMAILS_PER_SEARCH);
      const filters: SearchFilter[] = [
        { group: 'OR', filters: chunk.map((email) => ({ field: 'email', operator: 'eq' as const, value: email })) },
      ];
      for await (const contact of ctx.hl.contacts.searchAll(filters, 100)) {
        if (contact.email) candidates.delete(normalizeEmail(contact.email));
      }
    }
  } catch (error) {
    if (!(error instanceof HighLevelError && (error.status === 400 || error.status === 422))) throw error;
    ctx.log.warn({ err: error.message }, 'contact search by email refused: the import looks each customer up instead');
    return NONE;
  }
  return candidates;
}

async function importOne(
  ctx: FlowContext,
  customer: Customer,
  absent: ReadonlySet<string>,
): Promise<'created' | 'matched' | 'skipped' | 'failed'> {
  try {
    const result = await syncCustomer(ctx, customer, 'import', absent);
    return result.outcome === 'created' ? 'created' : result.outcome === 'matched' ? 'matched' : 'skipped';
  } catch (error) {
    if (error instanceof RetryLater) {
      // Another job holds this customer (its webhook arrived meanwhile): that job, or this one queued, finishes it.
      await ctx.queue.enqueue(
        QUEUES.qboCustomer,
        {
          connectionId: ctx.connection.id,
          key: `${ctx.connection.id}:customer:${customer.Id}`,
          customerId: customer.Id,
        },
        { startAfterSeconds: error.afterSeconds },
      );
      return 'skipped';
    }
    if (error instanceof SyncError) {
      await recordActivity(ctx.db, {
        connectionId: ctx.connection.id,
        flow: CONTACTS_FLOW,
        status: 'error',
        qboKind: 'Customer',
        qboId: customer.Id,
        crmId: `qbo-customer:${customer.Id}`,
        message: error.message,
        detail: { code: error.code, fix: error.fix, ...error.detail },
        retry: {
          queue: QUEUES.qboCustomer,
          data: {
            connectionId: ctx.connection.id,
            key: `${ctx.connection.id}:customer:${customer.Id}`,
            customerId: customer.Id,
          },
        },
      });
      return 'failed';
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// One customer (webhook or CDC job)

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
async function syncCustomer(
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
    const taken = await takeOverClaim(ctx, customer.Id, holder);
    if (!taken) throw new RetryLater(`QuickBooks customer ${customer.Id} is being brought into the CRM by another job`);
    mayExist = taken.mayExist;
  } else {
    // Never seen and already inactive: nothing worth creating in the CRM.
    if (customer.Active === false) return { outcome: 'skipped', reason: 'inactive in QuickBooks' };
    if (!(await claimCustomer(ctx, customer.Id, holder)))
      throw new RetryLater(`QuickBooks customer ${customer.Id} is being brought into the CRM by another job`);
  }
  try {
    return await matchOrCreateContact(ctx, customer, mode, holder, mayExist, absent);
  } catch (error) {
    await releaseClaim(ctx, customer.Id, holder);
    throw error;
  }
}

// Claims live on the QuickBooks side: crm_id is a placeholder until the contact exists (links are keyed by crm_id).
const placeholder = (customerId: string) => `qbo-customer:${customerId}`;

async function claimCustomer(ctx: FlowContext, customerId: string, holder: string): Promise<boolean> {
  const result = await ctx.db.query(
    `INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin, state, data) VALUES ($1, 'customer', $2, $3, 'qbo', 'pending', $4)
     ON CONFLICT DO NOTHING`,
    // mayExist from the start: a claim that outlives a failure always makes the next attempt look before it creates.
    [ctx.connection.id, placeholder(customerId), customerId, JSON.stringify({ holder, mayExist: true })],
  );
  return result.rowCount === 1;
}

/** Takes over a claim released after a failure (holder null) or abandoned by a dead worker. */
async function takeOverClaim(
  ctx: FlowContext,
  customerId: string,
  holder: string,
): Promise<{ mayExist: boolean } | undefined> {
  const result = await ctx.db.query<{ may_exist: string | null }>(
    `UPDATE links SET data = jsonb_set(data, '{holder}', to_jsonb($3::text)), updated_at = now()
     WHERE connection_id = $1 AND kind = 'customer' AND qbo_id = $2 AND state = 'pending'
       AND (data->>'holder' IS NULL OR updated_at < now() - make_interval(secs => $4))
     RETURNING data->>'mayExist' AS may_exist`,
    [ctx.connection.id, customerId, holder, ABANDONED_CLAIM_MS / 1000],
  );
  const row = result.rows[0];
  return row ? { mayExist: row.may_exist === 'true' } : undefined;
}

/** After a failure: the claim is kept (holder cleared), so the next try takes it over and looks before it creates. */
async function releaseClaim(ctx: FlowContext, customerId: string, holder: string): Promise<void> {
  await ctx.db.query(
    `UPDATE links SET data = data - 'holder', updated_at = now() WHERE connection_id = $1 AND kind = 'customer' AND qbo_id = $2 AND state = 'pending' AND data->>'holder' = $3`,
    [ctx.connection.id, customerId, holder],
  );
}

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
    if (owner?.state === 'pending' && (await customerClaimAbandoned(ctx, contact.id))) {
      // The CRM-side job that claimed this contact died and nothing retried it (found by the chaos run: the
      // QuickBooks customer it had created came back by webhook and waited on the dead claim for ever). The
      // contact and this customer share the email, which is the match that job would make: the claim goes, and
      // this job links them.
      await ctx.db.query(
        `DELETE FROM links WHERE connection_id = $1 AND kind = 'customer' AND crm_id = $2 AND state = 'pending'`,
        [ctx.connection.id, contact.id],
      );
      owner = undefined;
    }
    if (owner?.state === 'pending') {
      // The CRM-side flow is creating this very customer for this contact (its webhook beat its commit). Nothing was
      // created here, so the claim goes at once: it would otherwise block that flow's link on the same QuickBooks id.
      await ctx.db.query(
        `DELETE FROM links WHERE connection_id = $1 AND kind = 'customer' AND qbo_id = $2 AND state = 'pending'`,
        [ctx.connection.id, customer.Id],
      );
      throw new RetryLater(`contact ${contact.id} is being linked by another job`);
    }
    if (owner && owner.qboId !== customer.Id) {
      const sharedWith = contact.id;
      const reason = `its email ${fields.email ?? ''} belongs to contact ${contactLabel(contact)}, already linked to QuickBooks customer ${owner.qboId ?? '?'}`;
      await ctx.db.transaction(async (tx) => {
        await tx.query(
          `DELETE FROM links WHERE connection_id = $1 AND kind = 'customer' AND qbo_id = $2 AND state = 'pending'`,
          [ctx.connection.id, customer.Id],
        );
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
    const committed = await tx
      .query(
        `UPDATE links SET crm_id = $3, state = 'linked', origin = 'qbo', snapshot_hash = $4, qbo_sync_token = $5, qbo_updated_at = $6, crm_updated_at = $7, data = $8, updated_at = now()
       WHERE connection_id = $1 AND kind = 'customer' AND qbo_id = $2 AND state = 'pending'`,
        [
          ctx.connection.id,
          customer.Id,
          contact.id,
          syncedContactHash(crmFields),
          customer.SyncToken,
          customer.MetaData?.LastUpdatedTime ?? null,
          contact.dateUpdated ?? null,
          JSON.stringify({
            displayName: customer.DisplayName,
            qboSynced: qboFields,
            crmSynced: crmFields,
            inactive: !active,
            ...(unmatchable ? { unmatchable } : {}),
          }),
        ],
      )
      .catch((error: unknown) => {
        // The contact was linked to this customer's twin by the CRM-side flow a moment ago (primary key on crm_id).
        if (isUniqueViolation(error)) throw new RetryLater(`contact ${contact.id} was linked by another job meanwhile`);
        throw error;
      });
    if (committed.rowCount !== 1)
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
    await ctx.db.query(
      `UPDATE links SET qbo_sync_token = $3, updated_at = now() WHERE connection_id = $1 AND kind = 'customer' AND crm_id = $2`,
      [ctx.connection.id, link.crmId, customer.SyncToken],
    );
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
    await ctx.db.query(
      `UPDATE links SET qbo_sync_token = $3, updated_at = now() WHERE connection_id = $1 AND kind = 'customer' AND crm_id = $2`,
      [ctx.connection.id, link.crmId, customer.SyncToken],
    );
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
    await saveLink(tx, {
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
    await saveLink(tx, { ...link, data: { ...link.data, inactive: true } });
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

const syncedSchema = z.object(
  Object.fromEntries(SYNCED_CONTACT_FIELDS.map((f) => [f, z.string().nullable()])) as Record<
    SyncedContactField,
    z.ZodNullable<z.ZodString>
  >,
);

/** The synced fields stored in a link's data (absent on links made before snapshots were kept). */
export function syncedSnapshot(value: unknown): SyncedContact | undefined {
  const parsed = syncedSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export function sideOf(origin: 'crm' | 'qbo'): Side {
  return origin === 'crm' ? 'crm' : 'quickbooks';
}

function invalidReason(raw: string): string {
  const check = checkEmail(raw);
  return check.ok ? 'too long' : check.reason;
}

/** HighLevel answers 404, or 400 "Contact not found", for a contact that was deleted. */
export function isContactMissing(error: unknown): boolean {
  return (
    error instanceof HighLevelError &&
    (error.status === 404 || (error.status === 400 && /not found/i.test(error.message)))
  );
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

/** Runs `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
  return results;
}

// ---------------------------------------------------------------------------------------------------------
// The import's declaration (src/sync/engine/flow.ts); the live customer sync is declared in qboCustomers.ts.

export const contactImportFlow = defineFlow({
  name: CONTACTS_FLOW,
  summary: 'At connection: every existing QuickBooks customer -> a CRM contact, one slice per job',
  jobs: {
    importCustomers: defineJob({
      queue: QUEUES.importCustomers,
      payload: payload({}),
      run: (ctx) => importCustomers(ctx),
      // One slice at a time per process: each slice carries on from the cursor the last one wrote.
      concurrency: () => 1,
    }),
  },
  linkKinds: ['customer'],
});
