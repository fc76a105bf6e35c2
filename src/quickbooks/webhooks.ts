// QuickBooks webhooks (reference §5): verify intuit-signature over the raw body, then read either
// payload format into one flat event list. Bodies are hints: the engine re-reads each entity.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export type QuickBooksOperation = 'Create' | 'Update' | 'Delete' | 'Merge' | 'Void' | 'Emailed';

export interface QuickBooksChangeEvent {
  /** Dedupe key: CloudEvents id, or a hash of the legacy entry (legacy events carry no id). */
  eventId: string;
  realmId: string;
  /** Canonical entity name, e.g. "Invoice", "SalesReceipt". */
  entity: string;
  entityId: string;
  operation: QuickBooksOperation;
  occurredAt: string;
  /** For Merge: the id merged away. */
  deletedId?: string;
}

/**
 * intuit-signature is base64(HMAC-SHA256(verifier token, raw body bytes)). Verify the bytes as they
 * arrived: re-serialised JSON can differ in spacing or key order and would fail.
 */
export function verifyIntuitSignature(
  rawBody: Buffer | string,
  signature: string | undefined,
  verifierToken: string,
): boolean {
  if (!signature || verifierToken === '') return false;
  const expected = createHmac('sha256', verifierToken).update(rawBody).digest();
  const given = Buffer.from(signature.trim(), 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The signature QuickBooks would send for a body (for tests and the demo). */
export function signIntuitPayload(rawBody: Buffer | string, verifierToken: string): string {
  return createHmac('sha256', verifierToken).update(rawBody).digest('base64');
}

const legacySchema = z.looseObject({
  eventNotifications: z.array(
    z.looseObject({
      realmId: z.string(),
      dataChangeEvent: z
        .looseObject({
          entities: z
            .array(
              z.looseObject({
                name: z.string(),
                id: z.string(),
                operation: z.string(),
                lastUpdated: z.string(),
                deletedId: z.string().optional(),
              }),
            )
            .default([]),
        })
        .default({ entities: [] }),
    }),
  ),
});

const cloudEventSchema = z.looseObject({
  specversion: z.string(),
  id: z.string(),
  type: z.string(),
  time: z.string().optional(),
  intuitentityid: z.string(),
  intuitaccountid: z.string(),
  data: z.record(z.string(), z.unknown()).nullable().optional(),
});

// CloudEvents types carry the entity in lowercase (qbo.salesreceipt.updated.v1); map back to canonical names.
const CANONICAL_ENTITIES = [
  'Account',
  'Bill',
  'BillPayment',
  'Budget',
  'Class',
  'CreditMemo',
  'Currency',
  'Customer',
  'Department',
  'Deposit',
  'Employee',
  'Estimate',
  'Invoice',
  'Item',
  'JournalCode',
  'JournalEntry',
  'Payment',
  'PaymentMethod',
  'Preferences',
  'Purchase',
  'PurchaseOrder',
  'RefundReceipt',
  'SalesReceipt',
  'TaxAgency',
  'Term',
  'TimeActivity',
  'Transfer',
  'Vendor',
  'VendorCredit',
];
const entityByLowercase = new Map(CANONICAL_ENTITIES.map((name) => [name.toLowerCase(), name]));

const OPERATIONS: Record<string, QuickBooksOperation> = {
  create: 'Create',
  created: 'Create',
  update: 'Update',
  updated: 'Update',
  delete: 'Delete',
  deleted: 'Delete',
  merge: 'Merge',
  merged: 'Merge',
  void: 'Void',
  voided: 'Void',
  emailed: 'Emailed',
};

export class QuickBooksWebhookError extends Error {
  override readonly name = 'QuickBooksWebhookError';
}

// An operation Intuit adds later must not make the whole POST unreadable (it may batch many entities):
// the engine re-reads the entity anyway, so an unknown operation is reported as an Update.
function operationOf(value: string): QuickBooksOperation {
  return OPERATIONS[value.toLowerCase()] ?? 'Update';
}

function legacyEventId(realmId: string, entity: string, id: string, operation: string, lastUpdated: string): string {
  return `legacy-${createHash('sha256').update([realmId, entity, id, operation, lastUpdated].join('|')).digest('hex').slice(0, 40)}`;
}

/**
 * Parses a verified body in either format: the legacy `{"eventNotifications":[...]}` object or the
 * CloudEvents array (sent as application/json or application/cloudevents+json). Throws
 * QuickBooksWebhookError for anything else; the receiver should still answer 200 and log, because
 * Intuit holds back later events while one is failing (reference §5.4).
 */
export function parseQuickBooksWebhook(rawBody: Buffer | string): QuickBooksChangeEvent[] {
  let json: unknown;
  try {
    json = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    throw new QuickBooksWebhookError('QuickBooks webhook body is not JSON');
  }
  if (Array.isArray(json)) {
    const events = z.array(cloudEventSchema).safeParse(json);
    if (!events.success)
      throw new QuickBooksWebhookError(`not a CloudEvents batch: ${events.error.issues[0]?.message ?? ''}`);
    return events.data.map((e) => {
      // type is qbo.<entity>.<operation>.v<n>
      const [, entityPart = '', opPart = ''] = e.type.split('.');
      const entity = entityByLowercase.get(entityPart) ?? entityPart.charAt(0).toUpperCase() + entityPart.slice(1);
      const deleted = e.data?.deletedid ?? e.data?.deletedId;
      const event: QuickBooksChangeEvent = {
        eventId: e.id,
        realmId: e.intuitaccountid,
        entity,
        entityId: e.intuitentityid,
        operation: operationOf(opPart),
        occurredAt: e.time ?? new Date(0).toISOString(),
      };
      if (typeof deleted === 'string') event.deletedId = deleted;
      return event;
    });
  }
  const legacy = legacySchema.safeParse(json);
  if (!legacy.success)
    throw new QuickBooksWebhookError('neither a legacy eventNotifications body nor a CloudEvents array');
  return legacy.data.eventNotifications.flatMap((n) =>
    n.dataChangeEvent.entities.map((e) => {
      const event: QuickBooksChangeEvent = {
        eventId: legacyEventId(n.realmId, e.name, e.id, e.operation, e.lastUpdated),
        realmId: n.realmId,
        entity: e.name,
        entityId: e.id,
        operation: operationOf(e.operation),
        occurredAt: e.lastUpdated,
      };
      if (e.deletedId !== undefined) event.deletedId = e.deletedId;
      return event;
    }),
  );
}

/** Both content types carry the same JSON (CloudEvents may come as application/cloudevents+json). */
export function isQuickBooksWebhookContentType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/json' || type === 'application/cloudevents+json';
}
