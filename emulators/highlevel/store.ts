// In-memory data of the emulator, with the indexes the hot paths need: contacts by id and, per location,
// by lowercase email and by normalised phone (duplicate rule, upsert, duplicate look-up are O(1)).
import type {
  AuthorizationCode,
  Company,
  Contact,
  ContactNote,
  CustomFieldDef,
  Invoice,
  Location,
  Order,
  SentMessage,
  Subscription,
  TagChange,
  TokenGrant,
  Transaction,
  Workflow,
  Product,
  WorkflowEnrolment,
} from './model.ts';

/** Logs of side effects are bounded so a long benchmark cannot grow memory without limit. */
const LOG_LIMIT = 10_000;

/** A Map by id that also keeps each location's records together, so per-location lists skip other locations. */
export class LocationMap<T extends { id: string; locationId: string }> extends Map<string, T> {
  private readonly perLocation = new Map<string, Map<string, T>>();

  override set(id: string, value: T): this {
    const previous = super.get(id);
    if (previous && previous.locationId !== value.locationId) this.perLocation.get(previous.locationId)?.delete(id);
    super.set(id, value);
    // Map.prototype.set runs before field initialisers only when constructed from an iterable, which we never do.
    let bucket = this.perLocation.get(value.locationId);
    if (!bucket) {
      bucket = new Map();
      this.perLocation.set(value.locationId, bucket);
    }
    bucket.set(id, value);
    return this;
  }

  override delete(id: string): boolean {
    const previous = super.get(id);
    if (previous) this.perLocation.get(previous.locationId)?.delete(id);
    return super.delete(id);
  }

  override clear(): void {
    this.perLocation.clear();
    super.clear();
  }

  ofLocation(locationId: string): Iterable<T> {
    return this.perLocation.get(locationId)?.values() ?? [];
  }
}

export interface StoreSnapshot {
  version: 1;
  companies: Company[];
  locations: Location[];
  customFields: CustomFieldDef[];
  contacts: Contact[];
  invoices: Invoice[];
  orders: Order[];
  transactions: Transaction[];
  subscriptions: Subscription[];
  workflows: Workflow[];
  products?: Product[];
  notes?: ContactNote[];
  enrolments: WorkflowEnrolment[];
  messages: SentMessage[];
  tagChanges: TagChange[];
  tokens: TokenGrant[];
  installs: Array<{ locationId: string; installedAt: string }>;
  conversations: Array<[string, string]>;
  contactSeq: number;
}

export class HighLevelStore {
  readonly companies = new Map<string, Company>();
  readonly locations = new Map<string, Location>();
  readonly customFields = new Map<string, CustomFieldDef>();
  readonly contacts = new Map<string, Contact>();
  /** locationId -> (contactId -> contact), in creation order. */
  readonly contactsByLocation = new Map<string, Map<string, Contact>>();
  private readonly emailIndex = new Map<string, Map<string, Set<string>>>();
  private readonly phoneIndex = new Map<string, Map<string, Set<string>>>();
  readonly invoices = new LocationMap<Invoice>();
  readonly orders = new LocationMap<Order>();
  readonly transactions = new LocationMap<Transaction>();
  readonly subscriptions = new LocationMap<Subscription>();
  readonly workflows = new Map<string, Workflow>();
  readonly products = new LocationMap<Product>();
  readonly notes = new Map<string, ContactNote>();
  enrolments: WorkflowEnrolment[] = [];
  messages: SentMessage[] = [];
  tagChanges: TagChange[] = [];
  readonly tokens = new Map<string, TokenGrant>();
  readonly codes = new Map<string, AuthorizationCode>();
  /** locationId -> install time (the app is installed there). */
  readonly installs = new Map<string, string>();
  /** contactId -> conversationId (one conversation per contact, as in HighLevel's inbox). */
  readonly conversations = new Map<string, string>();
  contactSeq = 0;

  // ---- contacts -------------------------------------------------------------------------------
  contactsOf(locationId: string): Map<string, Contact> {
    let map = this.contactsByLocation.get(locationId);
    if (!map) {
      map = new Map();
      this.contactsByLocation.set(locationId, map);
    }
    return map;
  }

  insertContact(contact: Contact): void {
    this.contacts.set(contact.id, contact);
    this.contactsOf(contact.locationId).set(contact.id, contact);
    this.indexContact(contact);
  }

  /** Call with the contact as it was before a change, then apply the change, then indexContact. */
  unindexContact(contact: Contact): void {
    if (contact.email) removeFromIndex(this.emailIndex, contact.locationId, contact.email.toLowerCase(), contact.id);
    if (contact.phone) removeFromIndex(this.phoneIndex, contact.locationId, contact.phone, contact.id);
  }

  indexContact(contact: Contact): void {
    if (contact.email) addToIndex(this.emailIndex, contact.locationId, contact.email.toLowerCase(), contact.id);
    if (contact.phone) addToIndex(this.phoneIndex, contact.locationId, contact.phone, contact.id);
  }

  deleteContact(contact: Contact): void {
    this.unindexContact(contact);
    this.contacts.delete(contact.id);
    this.contactsByLocation.get(contact.locationId)?.delete(contact.id);
  }

  /** Oldest contact of the location with this email (case-insensitive). */
  contactByEmail(locationId: string, email: string): Contact | undefined {
    return this.firstOf(this.emailIndex, locationId, email.toLowerCase());
  }

  /** Every contact of the location with this email (case-insensitive), in no particular order. */
  contactsWithEmail(locationId: string, email: string): Contact[] {
    const ids = this.emailIndex.get(locationId)?.get(email.toLowerCase());
    return ids ? [...ids].flatMap((id) => this.contacts.get(id) ?? []) : [];
  }

  contactByPhone(locationId: string, phone: string): Contact | undefined {
    return this.firstOf(this.phoneIndex, locationId, phone);
  }

  private firstOf(index: Map<string, Map<string, Set<string>>>, locationId: string, key: string): Contact | undefined {
    const ids = index.get(locationId)?.get(key);
    if (!ids) return undefined;
    let best: Contact | undefined;
    for (const id of ids) {
      const c = this.contacts.get(id);
      if (c && (!best || c.seq < best.seq)) best = c;
    }
    return best;
  }

  // ---- bounded logs ---------------------------------------------------------------------------
  logEnrolment(e: WorkflowEnrolment): void {
    this.enrolments.push(e);
    trim(this.enrolments);
  }

  logMessage(m: SentMessage): void {
    this.messages.push(m);
    trim(this.messages);
  }

  logTagChange(t: TagChange): void {
    this.tagChanges.push(t);
    trim(this.tagChanges);
  }

  // ---- persistence ----------------------------------------------------------------------------
  snapshot(): StoreSnapshot {
    return {
      version: 1,
      companies: [...this.companies.values()],
      locations: [...this.locations.values()],
      customFields: [...this.customFields.values()],
      contacts: [...this.contacts.values()],
      invoices: [...this.invoices.values()],
      orders: [...this.orders.values()],
      transactions: [...this.transactions.values()],
      subscriptions: [...this.subscriptions.values()],
      workflows: [...this.workflows.values()],
      products: [...this.products.values()],
      notes: [...this.notes.values()],
      enrolments: this.enrolments,
      messages: this.messages,
      tagChanges: this.tagChanges,
      tokens: [...this.tokens.values()],
      installs: [...this.installs].map(([locationId, installedAt]) => ({ locationId, installedAt })),
      conversations: [...this.conversations],
      contactSeq: this.contactSeq,
    };
  }

  clear(): void {
    for (const map of [
      this.companies,
      this.locations,
      this.customFields,
      this.contacts,
      this.contactsByLocation,
      this.emailIndex,
      this.phoneIndex,
      this.invoices,
      this.orders,
      this.transactions,
      this.subscriptions,
      this.workflows,
      this.products,
      this.notes,
      this.tokens,
      this.codes,
      this.installs,
      this.conversations,
    ] as Array<Map<string, unknown>>)
      map.clear();
    this.enrolments = [];
    this.messages = [];
    this.tagChanges = [];
    this.contactSeq = 0;
  }

  restore(snapshot: StoreSnapshot): void {
    this.clear();
    for (const c of snapshot.companies) this.companies.set(c.id, c);
    for (const l of snapshot.locations) this.locations.set(l.id, l);
    for (const f of snapshot.customFields) this.customFields.set(f.id, f);
    for (const c of [...snapshot.contacts].sort((a, b) => a.seq - b.seq)) this.insertContact(c);
    for (const i of snapshot.invoices) this.invoices.set(i.id, i);
    for (const o of snapshot.orders) this.orders.set(o.id, o);
    for (const t of snapshot.transactions) this.transactions.set(t.id, t);
    for (const s of snapshot.subscriptions) this.subscriptions.set(s.id, s);
    for (const w of snapshot.workflows) this.workflows.set(w.id, w);
    for (const p of snapshot.products ?? []) this.products.set(p.id, p);
    for (const n of snapshot.notes ?? []) this.notes.set(n.id, n);
    this.enrolments = snapshot.enrolments;
    this.messages = snapshot.messages;
    this.tagChanges = snapshot.tagChanges;
    for (const t of snapshot.tokens) this.tokens.set(t.token, t);
    for (const i of snapshot.installs) this.installs.set(i.locationId, i.installedAt);
    for (const [k, v] of snapshot.conversations) this.conversations.set(k, v);
    this.contactSeq = snapshot.contactSeq;
  }
}

function addToIndex(index: Map<string, Map<string, Set<string>>>, locationId: string, key: string, id: string): void {
  let perLocation = index.get(locationId);
  if (!perLocation) {
    perLocation = new Map();
    index.set(locationId, perLocation);
  }
  let ids = perLocation.get(key);
  if (!ids) {
    ids = new Set();
    perLocation.set(key, ids);
  }
  ids.add(id);
}

function removeFromIndex(
  index: Map<string, Map<string, Set<string>>>,
  locationId: string,
  key: string | undefined,
  id?: string,
): void {
  if (!key || !id) return;
  const perLocation = index.get(locationId);
  const ids = perLocation?.get(key);
  if (!ids) return;
  ids.delete(id);
  if (ids.size === 0) perLocation!.delete(key);
}

function trim<T>(list: T[]): void {
  if (list.length > LOG_LIMIT) list.splice(0, list.length - LOG_LIMIT);
}
