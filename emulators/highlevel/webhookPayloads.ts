// Webhook bodies in the shape each event's doc shows (vendor-specs/highlevel/docs/webhook events/<Event>.md):
// the same field names, the same presence, the same types, and no field the doc does not show. The envelope
// (`timestamp`, `webhookId`) is added by the emitter. The contract test compares every body with its doc.
import { toMajor } from './money.ts';
import type { Contact, Invoice, Order } from './model.ts';
import {
  compact,
  contactFullName,
  customFieldsArray,
  invoiceTotals,
  orderTotals,
  taxSummaryJson,
  type Json,
} from './serialize.ts';

export type ContactEvent = 'ContactCreate' | 'ContactUpdate' | 'ContactDelete' | 'ContactTagUpdate';
export type InvoiceEvent =
  | 'InvoiceCreate'
  | 'InvoiceUpdate'
  | 'InvoiceSent'
  | 'InvoicePaid'
  | 'InvoicePartiallyPaid'
  | 'InvoiceVoid'
  | 'InvoiceDelete';
export type OrderEvent = 'OrderCreate' | 'OrderStatusUpdate';

/** The contact's documented fields, also what the emulator compares to decide that a contact changed. */
export function contactWebhookFields(c: Contact): Json {
  return compact({
    id: c.id,
    address1: c.address1,
    city: c.city,
    state: c.state,
    companyName: c.companyName,
    country: c.country,
    source: c.source,
    dateAdded: new Date(c.dateAdded).toISOString(),
    dateOfBirth: c.dateOfBirth,
    dnd: c.dnd,
    email: c.email,
    name: contactFullName(c),
    firstName: c.firstName,
    lastName: c.lastName,
    phone: c.phone,
    postalCode: c.postalCode,
    tags: [...c.tags],
    website: c.website,
    attachments: [],
    assignedTo: c.assignedTo,
    customFields: customFieldsArray(c),
  });
}

/** Contact*.md: flat, with `type` and `locationId`. */
export function contactEventPayload(event: ContactEvent, c: Contact): Json {
  return { type: event, locationId: c.locationId, ...contactWebhookFields(c) };
}

/**
 * Invoice*.md: the invoice at top level with no `type` and no `locationId` (the location is `altId`), a string
 * `invoiceNumber`, `businessDetails.address` as one string, `totalSummary` of subTotal and discount only.
 * InvoiceDelete's example reports `status: "delete"`.
 */
export function invoiceEventPayload(event: InvoiceEvent, inv: Invoice): Json {
  const t = invoiceTotals(inv);
  const cur = inv.currency;
  return {
    _id: inv.id,
    status: event === 'InvoiceDelete' ? 'delete' : inv.status,
    liveMode: inv.liveMode,
    amountPaid: toMajor(inv.amountPaidMinor, cur),
    altId: inv.locationId,
    altType: 'location',
    name: inv.name,
    businessDetails: businessDetailsOf(inv.businessDetails),
    invoiceNumber: inv.invoiceNumber,
    currency: cur,
    contactDetails: contactDetailsOf(inv.contactDetails),
    issueDate: inv.issueDate,
    dueDate: inv.dueDate,
    discount: {
      type: inv.discount.type,
      value: inv.discount.type === 'fixed' ? toMajor(inv.discount.value, cur) : inv.discount.value,
    },
    invoiceItems: inv.items.map((i) =>
      compact({
        taxes: i.taxes.map((tax) => compact({ ...tax })),
        _id: i._id,
        productId: i.productId,
        priceId: i.priceId,
        currency: i.currency,
        name: i.name,
        qty: i.qty,
        amount: toMajor(i.unitMinor, cur),
      }),
    ),
    total: toMajor(t.total, cur),
    title: inv.title,
    amountDue: toMajor(t.total - inv.amountPaidMinor, cur),
    createdAt: new Date(inv.createdAt).toISOString(),
    updatedAt: new Date(inv.updatedAt).toISOString(),
    totalSummary: { subTotal: toMajor(t.subTotal, cur), discount: toMajor(t.discount, cur) },
  };
}

function businessDetailsOf(details: Record<string, unknown>): Json {
  const address = details.address;
  const oneLine =
    typeof address === 'string'
      ? address
      : address && typeof address === 'object'
        ? ['addressLine1', 'addressLine2', 'city', 'state', 'postalCode', 'countryCode']
            .map((key) => (address as Record<string, unknown>)[key])
            .filter((part): part is string => typeof part === 'string' && part !== '')
            .join(', ')
        : undefined;
  return compact({
    name: details.name,
    address: oneLine,
    phoneNo: details.phoneNo,
    website: details.website,
    logoUrl: details.logoUrl,
    customValues: details.customValues,
  });
}

const CONTACT_ADDRESS_KEYS = ['countryCode', 'addressLine1', 'addressLine2', 'city', 'state', 'postalCode'] as const;

function contactDetailsOf(details: Invoice['contactDetails']): Json {
  const address = details.address
    ? compact(Object.fromEntries(CONTACT_ADDRESS_KEYS.map((key) => [key, details.address?.[key]])))
    : undefined;
  return compact({
    id: details.id,
    phoneNo: details.phoneNo,
    email: details.email,
    customFields: details.customFields,
    name: details.name,
    address,
    additionalEmails: details.additionalEmails,
    companyName: details.companyName,
  });
}

/** OrderCreate.md / OrderStatusUpdate.md: flat with `type` and `locationId`; camelCase `contactSnapshot`. */
export function orderEventPayload(event: OrderEvent, o: Order): Json {
  const t = orderTotals(o);
  const s = o.contactSnapshot;
  return {
    type: event,
    locationId: o.locationId,
    _id: o.id,
    altId: o.locationId,
    altType: 'location',
    status: o.status,
    taxSummary: taxSummaryJson(t, o.currency),
    fulfillmentStatus: o.fulfillmentStatus,
    contactId: o.contactId,
    currency: o.currency,
    amount: toMajor(t.total, o.currency),
    liveMode: o.liveMode,
    amountSummary: {
      subtotal: toMajor(t.subTotal, o.currency),
      discount: toMajor(t.discount, o.currency),
      tax: toMajor(t.tax, o.currency),
      shipping: 0,
    },
    source: compact({ ...o.source }),
    createdAt: new Date(o.createdAt).toISOString(),
    updatedAt: new Date(o.updatedAt).toISOString(),
    contactSnapshot: compact({
      id: s.id,
      locationId: s.locationId,
      firstName: s.firstName,
      lastName: s.lastName,
      name: s.name,
      email: s.email,
      phone: s.phone,
      companyName: s.companyName,
      dnd: s.dnd,
      source: s.source,
      address1: s.address1,
      city: s.city,
      state: s.state,
      postalCode: s.postalCode,
      tags: [...s.tags],
      country: s.country,
      dateAdded: s.dateAdded,
      attachments: [],
    }),
    items: o.items.map((i) => ({
      name: i.name,
      qty: i.qty,
      product: {
        _id: i.productId,
        name: i.name,
        availableInStore: false,
        taxes: i.taxes.map((tax) => ({ _id: tax._id, calculation: tax.calculation, name: tax.name, rate: tax.rate })),
        variants: [],
      },
      price: {
        _id: i.priceId,
        name: i.name,
        type: i.priceType,
        currency: o.currency,
        amount: toMajor(i.unitMinor, o.currency),
        variantOptionIds: [],
      },
    })),
  };
}

/** AppInstall.md: location-level installs name the location; agency-level ones only the company. */
export function appInstallPayload(install: {
  appId: string;
  companyId: string;
  companyName: string;
  userId: string;
  locationId: string | null;
}): Json {
  // A free app: no planId, and `trial` without a running trial.
  if (install.locationId === null)
    return { type: 'INSTALL', appId: install.appId, companyId: install.companyId, trial: {} };
  return {
    type: 'INSTALL',
    appId: install.appId,
    locationId: install.locationId,
    companyId: install.companyId,
    userId: install.userId,
    trial: {},
    isWhitelabelCompany: false,
    whitelabelDetails: {},
    companyName: install.companyName,
  };
}

/** AppUninstall.md, location-level example: type, appId, locationId. */
export function appUninstallPayload(appId: string, locationId: string): Json {
  return { type: 'UNINSTALL', appId, locationId };
}
