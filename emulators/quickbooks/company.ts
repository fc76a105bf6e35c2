// One QuickBooks company (realm): its settings, its entities in wire shape, the indexes that keep the hot
// paths O(1) (by Id, DisplayName, Item Name, DocNumber) and the tombstones that change data capture reports.
import type { Rec } from './json.ts';
import { str } from './json.ts';

export const entityNames = [
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
  'Invoice',
  'SalesReceipt',
  'Payment',
  'RefundReceipt',
  'CreditMemo',
  'CompanyInfo',
  'Preferences',
] as const;
export type EntityName = (typeof entityNames)[number];

export const countries = ['US', 'CA', 'GB', 'AU'] as const;
export type Country = (typeof countries)[number];

export interface CompanySettings {
  name: string;
  country: Country;
  currency: string;
  /** Fixed UTC offset of the company's timestamps, in minutes (no daylight saving). */
  offsetMinutes: number;
  multiCurrency: boolean;
  /** Preferences "warn if duplicate number": a reused DocNumber gives 6140 unless include=allowduplicatedocnum. */
  enforceUniqueDocNumbers: boolean;
  /** Preferences.SalesFormsPrefs.CustomTxnNumbers: when true, DocNumber is not assigned automatically. */
  customTxnNumbers: boolean;
  /** US only: the TaxCode whose rates apply to TAX lines when a transaction names no TxnTaxCodeRef. */
  usDefaultTaxCodeId?: string;
  /** Home units per one foreign unit, by currency code (decimal text); 1 when absent. */
  exchangeRates: Record<string, string>;
}

export interface ChangeMark {
  /** Emulated epoch ms of the last write. */
  at: number;
  deleted: boolean;
}

/** The persisted form of a company. */
export interface CompanySnapshot {
  realmId: string;
  settings: CompanySettings;
  createdAt: number;
  entities: Partial<Record<EntityName, Rec[]>>;
  changes: Partial<Record<EntityName, Record<string, ChangeMark>>>;
  counters: Record<string, number>;
  /** The admin input the company was created from (reset rebuilds from it). */
  seed?: unknown;
}

function emailOf(record: Rec): string | undefined {
  const address = record.PrimaryEmailAddr;
  if (typeof address !== 'object' || address === null || Array.isArray(address)) return undefined;
  return (
    str((address as Rec).Address)
      ?.trim()
      .toLowerCase() || undefined
  );
}

export class Company {
  readonly tables = new Map<EntityName, Map<string, Rec>>();
  /** Last write per entity id (including deleted ones) for CDC and "deleted -> 610". */
  readonly changes = new Map<EntityName, Map<string, ChangeMark>>();
  /** Lower-cased DisplayName shared by Customer, Vendor and Employee (6240 across all three, inactive included). */
  readonly displayNames = new Map<string, { entity: EntityName; id: string }>();
  /** Lower-cased PrimaryEmailAddr.Address -> Ids, per name entity (contact matching by email is a hot query). */
  readonly emails = new Map<EntityName, Map<string, Set<string>>>();
  /** Lower-cased Name per list entity (Item, Account, PaymentMethod, Class, Department, TaxCode, TaxRate). */
  readonly listNames = new Map<EntityName, Map<string, string>>();
  /** DocNumber -> Ids per transaction entity (several when duplicates were allowed). */
  readonly docNumbers = new Map<EntityName, Map<string, Set<string>>>();
  counters: Record<string, number> = {};

  constructor(
    readonly realmId: string,
    public settings: CompanySettings,
    readonly createdAt: number,
  ) {
    for (const name of entityNames) {
      this.tables.set(name, new Map());
      this.changes.set(name, new Map());
    }
  }

  table(entity: EntityName): Map<string, Rec> {
    return this.tables.get(entity)!;
  }

  get(entity: EntityName, id: string): Rec | undefined {
    return this.tables.get(entity)!.get(id);
  }

  nextId(entity: EntityName): string {
    const next = (this.counters[`id:${entity}`] ?? 0) + 1;
    this.counters[`id:${entity}`] = next;
    return String(next);
  }

  nextDocNumber(entity: EntityName): string {
    // Sandbox companies number sales forms from 1001 upwards (VCR shows 1041, 1043).
    const key = `doc:${entity}`;
    const docs = this.docNumbers.get(entity);
    let next = this.counters[key] ?? 1001;
    while (docs?.has(String(next))) next++;
    this.counters[key] = next + 1;
    return String(next);
  }

  /** Stores a record and keeps every index in step; previous is the record it replaces. */
  put(entity: EntityName, record: Rec, at: number): void {
    const id = str(record.Id)!;
    const previous = this.get(entity, id);
    if (previous) this.unindex(entity, previous);
    this.tables.get(entity)!.set(id, record);
    this.index(entity, record);
    this.changes.get(entity)!.set(id, { at, deleted: false });
  }

  remove(entity: EntityName, id: string, at: number): void {
    const previous = this.get(entity, id);
    if (!previous) return;
    this.unindex(entity, previous);
    this.tables.get(entity)!.delete(id);
    this.changes.get(entity)!.set(id, { at, deleted: true });
  }

  isDeleted(entity: EntityName, id: string): boolean {
    return this.changes.get(entity)!.get(id)?.deleted === true;
  }

  findDisplayName(name: string): { entity: EntityName; id: string } | undefined {
    return this.displayNames.get(name.trim().toLowerCase());
  }

  findListName(entity: EntityName, name: string): string | undefined {
    return this.listNames.get(entity)?.get(name.trim().toLowerCase());
  }

  /** An Id holding this DocNumber other than `exceptId`, if any. */
  findDocNumber(entity: EntityName, docNumber: string, exceptId = ''): string | undefined {
    const ids = this.docNumbers.get(entity)?.get(docNumber);
    if (!ids) return undefined;
    for (const id of ids) if (id !== exceptId) return id;
    return undefined;
  }

  private index(entity: EntityName, record: Rec): void {
    const id = str(record.Id)!;
    if (entity === 'Customer' || entity === 'Vendor' || entity === 'Employee') {
      const name = str(record.DisplayName);
      if (name) this.displayNames.set(name.toLowerCase(), { entity, id });
      const email = emailOf(record);
      if (email) {
        let byEmail = this.emails.get(entity);
        if (!byEmail) this.emails.set(entity, (byEmail = new Map()));
        let ids = byEmail.get(email);
        if (!ids) byEmail.set(email, (ids = new Set()));
        ids.add(id);
      }
    } else if (
      entity === 'Item' ||
      entity === 'Account' ||
      entity === 'PaymentMethod' ||
      entity === 'Class' ||
      entity === 'Department' ||
      entity === 'TaxCode' ||
      entity === 'TaxRate'
    ) {
      const name = str(record.Name);
      if (name) {
        let names = this.listNames.get(entity);
        if (!names) this.listNames.set(entity, (names = new Map()));
        names.set(name.toLowerCase(), id);
      }
    }
    const doc = str(record.DocNumber);
    if (doc !== undefined) {
      let docs = this.docNumbers.get(entity);
      if (!docs) this.docNumbers.set(entity, (docs = new Map()));
      let ids = docs.get(doc);
      if (!ids) docs.set(doc, (ids = new Set()));
      ids.add(id);
    }
  }

  private unindex(entity: EntityName, record: Rec): void {
    const id = str(record.Id)!;
    const name = str(record.DisplayName);
    if (name && this.displayNames.get(name.toLowerCase())?.id === id) this.displayNames.delete(name.toLowerCase());
    const email = emailOf(record);
    const emailIds = email ? this.emails.get(entity)?.get(email) : undefined;
    if (emailIds) {
      emailIds.delete(id);
      if (emailIds.size === 0) this.emails.get(entity)!.delete(email!);
    }
    const listName = str(record.Name);
    const names = this.listNames.get(entity);
    if (listName && names?.get(listName.toLowerCase()) === id) names.delete(listName.toLowerCase());
    const doc = str(record.DocNumber);
    const ids = doc !== undefined ? this.docNumbers.get(entity)?.get(doc) : undefined;
    if (ids) {
      ids.delete(id);
      if (ids.size === 0) this.docNumbers.get(entity)!.delete(doc!);
    }
  }

  snapshot(): CompanySnapshot {
    const entities: Partial<Record<EntityName, Rec[]>> = {};
    const changes: Partial<Record<EntityName, Record<string, ChangeMark>>> = {};
    for (const name of entityNames) {
      entities[name] = [...this.table(name).values()];
      changes[name] = Object.fromEntries(this.changes.get(name)!);
    }
    return {
      realmId: this.realmId,
      settings: this.settings,
      createdAt: this.createdAt,
      entities,
      changes,
      counters: this.counters,
    };
  }

  static fromSnapshot(snapshot: CompanySnapshot): Company {
    const company = new Company(snapshot.realmId, snapshot.settings, snapshot.createdAt);
    company.counters = { ...snapshot.counters };
    for (const name of entityNames) {
      for (const record of snapshot.entities[name] ?? []) {
        const id = str(record.Id)!;
        company.tables.get(name)!.set(id, record);
        company.index(name, record);
      }
      for (const [id, mark] of Object.entries(snapshot.changes[name] ?? {})) company.changes.get(name)!.set(id, mark);
    }
    return company;
  }
}
