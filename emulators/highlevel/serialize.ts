// JSON views of the records, in HighLevel's field names (apps/*.json response schemas and docs/webhook events).
// Absent values are omitted rather than sent as null, as HighLevel's API does for unset contact fields.
import { toMajor } from './money.ts';
import { computeDocumentTotals, type DocumentTotals } from './documentTotals.ts';
import type { Contact, ContactSnapshot, Invoice, Order, Subscription, Transaction } from './model.ts';

export type Json = Record<string, unknown>;

export function compact(obj: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

export function contactFullName(c: {
  firstName?: string | null | undefined;
  lastName?: string | null | undefined;
  name?: string | null | undefined;
}): string | null {
  const joined = [c.firstName, c.lastName].filter((p) => p !== null && p !== undefined && p !== '').join(' ');
  return joined || c.name || null;
}

export function customFieldsArray(c: Contact): Array<{ id: string; value: unknown }> {
  return Object.entries(c.customFields).map(([id, value]) => ({ id, value }));
}

/**
 * GET /contacts/{id}, create, update and upsert answers. Recorded real answers (NangoHQ/integration-templates,
 * integrations/highlevel/tests/get-contact, create-contact, update-contact) carry no `name` and leave unset fields
 * out; additionalEmails and additionalPhones are always there.
 */
export function contactJson(c: Contact): Json {
  const name = contactFullName(c);
  return compact({
    id: c.id,
    locationId: c.locationId,
    firstName: c.firstName,
    lastName: c.lastName,
    email: c.email,
    emailLowerCase: c.email?.toLowerCase(),
    timezone: c.timezone,
    companyName: c.companyName,
    phone: c.phone,
    dnd: c.dnd,
    type: c.type,
    source: c.source,
    assignedTo: c.assignedTo,
    address1: c.address1,
    city: c.city,
    state: c.state,
    country: c.country,
    postalCode: c.postalCode,
    website: c.website,
    tags: [...c.tags],
    dateOfBirth: c.dateOfBirth,
    dateAdded: new Date(c.dateAdded).toISOString(),
    dateUpdated: new Date(c.dateUpdated).toISOString(),
    firstNameLowerCase: c.firstName?.toLowerCase(),
    lastNameLowerCase: c.lastName?.toLowerCase(),
    fullNameLowerCase: name?.toLowerCase(),
    customFields: customFieldsArray(c),
    additionalEmails: [],
    additionalPhones: [],
  });
}

/**
 * A hit of POST /contacts/search, as recorded from the real API (NangoHQ/integration-templates,
 * integrations/highlevel/tests/contacts and list-contacts; highlevel-api-docs issue 314): every key present with
 * null where unset, the street line as `address` (not address1), `contactName` as the lowercased full name,
 * `dateOfBirth` in epoch milliseconds, no email or full-name lowercase variants, and the cursor to continue after it.
 */
export function contactSearchHitJson(c: Contact, searchAfter: Array<number | string>): Json {
  const name = contactFullName(c);
  return {
    id: c.id,
    phoneLabel: null,
    country: c.country,
    address: c.address1,
    source: c.source,
    type: c.type,
    locationId: c.locationId,
    website: c.website,
    dnd: c.dnd,
    state: c.state,
    businessName: c.companyName,
    customFields: customFieldsArray(c),
    tags: [...c.tags],
    dateAdded: new Date(c.dateAdded).toISOString(),
    additionalEmails: [],
    phone: c.phone,
    companyName: c.companyName,
    additionalPhones: [],
    dateUpdated: new Date(c.dateUpdated).toISOString(),
    city: c.city,
    dateOfBirth: c.dateOfBirth ? Date.parse(`${c.dateOfBirth.slice(0, 10)}T00:00:00.000Z`) : null,
    firstNameLowerCase: c.firstName?.toLowerCase() ?? null,
    lastNameLowerCase: c.lastName?.toLowerCase() ?? null,
    firstName: c.firstName,
    lastName: c.lastName,
    contactName: name?.toLowerCase() ?? null,
    email: c.email,
    assignedTo: c.assignedTo,
    followers: [],
    validEmail: null,
    dndSettings: {},
    postalCode: c.postalCode,
    businessId: null,
    searchAfter,
    timezone: c.timezone,
    inboundDndSettings: {},
    attributionSource: {},
    lastAttributionSource: {},
  };
}

export function snapshotOfContact(c: Contact): ContactSnapshot {
  const snap: ContactSnapshot = {
    id: c.id,
    locationId: c.locationId,
    type: c.type,
    tags: [...c.tags],
    dnd: c.dnd,
    dateAdded: new Date(c.dateAdded).toISOString(),
  };
  const optional: Array<[keyof ContactSnapshot, string | null]> = [
    ['firstName', c.firstName],
    ['lastName', c.lastName],
    ['name', contactFullName(c)],
    ['email', c.email],
    ['phone', c.phone],
    ['companyName', c.companyName],
    ['address1', c.address1],
    ['city', c.city],
    ['state', c.state],
    ['postalCode', c.postalCode],
    ['country', c.country],
    ['source', c.source],
  ];
  for (const [key, value] of optional) if (value !== null) (snap as unknown as Json)[key] = value;
  return snap;
}

/** REST details carry the snapshot with snake_case keys (payments.json examples). */
export function snakeSnapshot(s: ContactSnapshot): Json {
  return compact({
    id: s.id,
    location_id: s.locationId,
    first_name: s.firstName,
    last_name: s.lastName,
    full_name: s.name,
    first_name_lower_case: s.firstName?.toLowerCase(),
    last_name_lower_case: s.lastName?.toLowerCase(),
    full_name_lower_case: s.name?.toLowerCase(),
    email: s.email,
    phone: s.phone,
    company_name: s.companyName,
    address1: s.address1,
    city: s.city,
    state: s.state,
    postal_code: s.postalCode,
    country: s.country,
    source: s.source,
    type: s.type,
    tags: s.tags,
    dnd: s.dnd,
    date_added: s.dateAdded,
  });
}

// ---- invoices ---------------------------------------------------------------------------------

export function invoiceTotals(inv: Invoice): DocumentTotals {
  return computeDocumentTotals(
    inv.items.map((i) => ({
      unitMinor: i.unitMinor,
      qty: i.qty,
      productId: i.productId,
      taxInclusive: i.taxInclusive,
      taxes: i.taxes,
    })),
    inv.discount.type === 'fixed'
      ? { type: 'fixed', value: Math.round(inv.discount.value), validOnProductIds: inv.discount.validOnProductIds }
      : { type: 'percentage', value: inv.discount.value, validOnProductIds: inv.discount.validOnProductIds },
  );
}

/** The invoice object of the REST answers (invoices.json); webhooks send their own form (webhookPayloads.ts). */
export function invoiceJson(inv: Invoice): Json {
  const t = invoiceTotals(inv);
  const cur = inv.currency;
  const numeric = /^\d+$/.test(inv.invoiceNumber);
  const discount: Json = {
    type: inv.discount.type,
    value: inv.discount.type === 'fixed' ? toMajor(inv.discount.value, cur) : inv.discount.value,
  };
  if (inv.discount.validOnProductIds) discount.validOnProductIds = inv.discount.validOnProductIds;
  return {
    _id: inv.id,
    status: inv.status,
    liveMode: inv.liveMode,
    amountPaid: toMajor(inv.amountPaidMinor, cur),
    altId: inv.locationId,
    altType: 'location',
    name: inv.name,
    businessDetails: inv.businessDetails,
    invoiceNumber: numeric ? Number(inv.invoiceNumber) : inv.invoiceNumber,
    invoiceNumberPrefix: inv.invoiceNumberPrefix,
    currency: cur,
    contactDetails: inv.contactDetails,
    issueDate: inv.issueDate,
    dueDate: inv.dueDate,
    discount,
    invoiceItems: inv.items.map((i) =>
      compact({
        _id: i._id,
        productId: i.productId,
        priceId: i.priceId,
        currency: i.currency,
        name: i.name,
        description: i.description,
        qty: i.qty,
        amount: toMajor(i.unitMinor, cur),
        taxes: i.taxes.map((tax) => compact({ ...tax })),
        taxInclusive: i.taxInclusive,
        type: i.type,
      }),
    ),
    total: toMajor(t.total, cur),
    title: inv.title,
    termsNotes: inv.termsNotes,
    sentTo: inv.sentTo,
    amountDue: toMajor(t.total - inv.amountPaidMinor, cur),
    createdAt: new Date(inv.createdAt).toISOString(),
    updatedAt: new Date(inv.updatedAt).toISOString(),
    automaticTaxesEnabled: inv.automaticTaxesEnabled,
    automaticTaxesCalculated: false,
    totalSummary: { subTotal: toMajor(t.subTotal, cur), discount: toMajor(t.discount, cur), tax: toMajor(t.tax, cur) },
  };
}

// ---- orders, transactions, subscriptions ------------------------------------------------------

export function orderTotals(o: Order): DocumentTotals {
  return computeDocumentTotals(
    o.items.map((i) => ({ unitMinor: i.unitMinor, qty: i.qty, productId: i.productId, taxes: i.taxes })),
    o.discountMinor > 0 ? { type: 'fixed', value: o.discountMinor } : undefined,
  );
}

function orderItemsJson(o: Order): Json[] {
  return o.items.map((i) => ({
    _id: i._id,
    name: i.name,
    qty: i.qty,
    product: {
      _id: i.productId,
      name: i.name,
      productType: 'DIGITAL',
      availableInStore: false,
      taxes: i.taxes,
      variants: [],
    },
    price: compact({
      _id: i.priceId,
      name: i.name,
      type: i.priceType,
      currency: o.currency,
      amount: toMajor(i.unitMinor, o.currency),
      recurring: i.recurring,
      variantOptionIds: [],
    }),
  }));
}

export function taxSummaryJson(t: DocumentTotals, currency: string): Json[] {
  return t.taxSummary.map((s) => ({
    _id: s._id,
    name: s.name,
    calculation: s.calculation,
    rate: s.rate,
    amount: toMajor(s.amountMinor, currency),
  }));
}

export function orderListItemJson(o: Order): Json {
  const t = orderTotals(o);
  return compact({
    _id: o.id,
    altId: o.locationId,
    altType: 'location',
    contactId: o.contactId,
    contactName: o.contactSnapshot.name,
    contactEmail: o.contactSnapshot.email,
    currency: o.currency,
    amount: toMajor(t.total, o.currency),
    subtotal: toMajor(t.subTotal, o.currency),
    discount: toMajor(t.discount, o.currency),
    status: o.status,
    paymentStatus: o.paymentStatus,
    liveMode: o.liveMode,
    totalProducts: o.items.length,
    sourceType: o.source.type,
    sourceName: o.source.name,
    sourceId: o.source.id,
    sourceMeta: o.source.meta ?? {},
    sourceSubType: o.source.subType,
    couponCode: o.couponCode,
    createdAt: new Date(o.createdAt).toISOString(),
    updatedAt: new Date(o.updatedAt).toISOString(),
    fulfillmentStatus: o.fulfillmentStatus,
    onetimeProducts: o.items.filter((i) => i.priceType === 'one_time').length,
    recurringProducts: o.items.filter((i) => i.priceType === 'recurring').length,
    createdBy: o.createdBy,
  });
}

export function orderDetailJson(o: Order, traceId: string): Json {
  const t = orderTotals(o);
  return compact({
    _id: o.id,
    altId: o.locationId,
    altType: 'location',
    contactId: o.contactId,
    currency: o.currency,
    amount: toMajor(t.total, o.currency),
    status: o.status,
    paymentStatus: o.paymentStatus,
    liveMode: o.liveMode,
    createdAt: new Date(o.createdAt).toISOString(),
    updatedAt: new Date(o.updatedAt).toISOString(),
    fulfillmentStatus: o.fulfillmentStatus,
    contactSnapshot: snakeSnapshot(o.contactSnapshot),
    amountSummary: {
      subtotal: toMajor(t.subTotal, o.currency),
      discount: toMajor(t.discount, o.currency),
      tax: toMajor(t.tax, o.currency),
    },
    taxSummary: taxSummaryJson(t, o.currency),
    source: compact({ ...o.source }),
    items: orderItemsJson(o),
    couponCode: o.couponCode,
    markAsTest: !o.liveMode,
    traceId,
    automaticTaxesCalculated: false,
    createdBy: o.createdBy,
  });
}

export function transactionListItemJson(x: Transaction): Json {
  return compact({
    _id: x.id,
    altId: x.locationId,
    altType: 'location',
    contactId: x.contactId,
    contactName: x.contactSnapshot.name,
    contactEmail: x.contactSnapshot.email,
    currency: x.currency,
    amount: toMajor(x.amountMinor, x.currency),
    status: x.status,
    liveMode: x.liveMode,
    entityType: x.entityType,
    entityId: x.entityId,
    entitySourceType: x.entitySource.type,
    entitySourceSubType: x.entitySource.subType,
    entitySourceName: x.entitySource.name,
    entitySourceId: x.entitySource.id,
    entitySourceMeta: x.entitySource.meta,
    subscriptionId: x.subscriptionId,
    chargeId: x.chargeId,
    paymentProviderType: x.paymentProviderType,
    createdAt: new Date(x.createdAt).toISOString(),
    updatedAt: new Date(x.updatedAt).toISOString(),
    amountRefunded: toMajor(x.amountRefundedMinor, x.currency),
    paymentMethod: x.paymentMethod,
    fulfilledAt: new Date(x.fulfilledAt).toISOString(),
    createdBy: x.createdBy,
  });
}

export function transactionDetailJson(x: Transaction, traceId: string): Json {
  return compact({
    _id: x.id,
    altType: 'location',
    altId: x.locationId,
    contactId: x.contactId,
    contactSnapshot: snakeSnapshot(x.contactSnapshot),
    currency: x.currency,
    amount: toMajor(x.amountMinor, x.currency),
    status: x.status,
    liveMode: x.liveMode,
    createdAt: new Date(x.createdAt).toISOString(),
    updatedAt: new Date(x.updatedAt).toISOString(),
    entityType: x.entityType,
    entityId: x.entityId,
    entitySource: compact({ ...x.entitySource }),
    chargeId: x.chargeId,
    invoiceId: x.invoiceId,
    subscriptionId: x.subscriptionId,
    paymentProvider: { type: x.paymentProviderType },
    paymentMethod: x.paymentMethod,
    markAsTest: !x.liveMode,
    isParent: false,
    amountRefunded: toMajor(x.amountRefundedMinor, x.currency),
    fulfilledAt: new Date(x.fulfilledAt).toISOString(),
    qboSynced: x.qboResponse !== undefined,
    qboResponse: x.qboResponse,
    traceId,
    createdBy: x.createdBy,
  });
}

export function subscriptionListItemJson(s: Subscription): Json {
  return compact({
    _id: s.id,
    altId: s.locationId,
    altType: 'location',
    contactId: s.contactId,
    contactName: s.contactSnapshot.name,
    contactEmail: s.contactSnapshot.email,
    currency: s.currency,
    amount: toMajor(s.amountMinor, s.currency),
    status: s.status,
    liveMode: s.liveMode,
    entityType: s.entityType,
    entityId: s.entityId,
    entitySourceType: s.entitySource.type,
    entitySourceName: s.entitySource.name,
    entitySourceId: s.entitySource.id,
    entitySourceMeta: s.entitySource.meta,
    subscriptionId: s.providerSubscriptionId,
    paymentProviderType: 'stripe',
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
    createdBy: 'system',
  });
}

const RRULE_INTERVAL: Record<Subscription['interval'], string> = {
  day: 'daily',
  week: 'weekly',
  month: 'monthly',
  year: 'yearly',
};

export function subscriptionDetailJson(s: Subscription, nextChargeAt: number, traceId: string): Json {
  return compact({
    _id: s.id,
    altType: 'location',
    altId: s.locationId,
    contactId: s.contactId,
    contactSnapshot: snakeSnapshot(s.contactSnapshot),
    currency: s.currency,
    amount: toMajor(s.amountMinor, s.currency),
    status: s.status,
    liveMode: s.liveMode,
    entityType: s.entityType,
    entityId: s.entityId,
    entitySource: compact({ ...s.entitySource }),
    subscriptionId: s.providerSubscriptionId,
    paymentProvider: { type: 'stripe' },
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
    markAsTest: !s.liveMode,
    schedule:
      s.status === 'active'
        ? {
            executeAt: new Date(nextChargeAt).toISOString(),
            rrule: {
              intervalType: RRULE_INTERVAL[s.interval],
              interval: s.intervalCount,
              startDate: new Date(s.createdAt).toISOString().slice(0, 10),
            },
          }
        : undefined,
    recurringProduct: { locationId: s.locationId, name: s.productName },
    canceledAt: s.canceledAt === null ? undefined : new Date(s.canceledAt).toISOString(),
    traceId,
    createdBy: 'system',
  });
}
