// The emulator's state and its administrative operations (the /_emulator/ HTTP API calls these, and tests may call
// them directly): companies, tokens without a browser, data listing and reset, the clock, webhooks and faults.
import { randomInt } from 'node:crypto';
import type { EmulatorClock } from '../common/clock.ts';
import type { FaultConfig, FaultInjector } from '../common/faults.ts';
import { Accounting, nameListEntities } from './accounting.ts';
import type { CompanySettings, Country, EntityName } from './company.ts';
import { Company } from './company.ts';
import type { ChangeOperation } from './entities/context.ts';
import type { Rec } from './json.ts';
import type { RealmLimits } from './limits.ts';
import type { RequestIdCache } from './idempotency.ts';
import type { App, TokenResponse } from './oauth.ts';
import { OAuthStore } from './oauth.ts';
import type { EmulatorSnapshot } from './persist.ts';
import { countryDefaults, seedCompany } from './seed.ts';
import type { ChangeEvent, WebhookSubscription } from './webhooks.ts';
import { WebhookNotifier } from './webhooks.ts';

export interface CreateCompanyInput {
  country: Country;
  name?: string;
  currency?: string;
  multiCurrency?: boolean;
  /** US: percentage of the default sales tax code (default 8). */
  salesTaxPercent?: number;
  enforceUniqueDocNumbers?: boolean;
  customTxnNumbers?: boolean;
  offsetMinutes?: number;
  exchangeRates?: Record<string, string>;
  /** Sample data like a real sandbox company's: Expense accounts, items, customers (seed.ts, sampleData.ts). */
  sampleData?: boolean;
}

/** Preferences.AccountingInfoPrefs switches a test may flip (a new company tracks neither classes nor locations). */
export interface TrackingPatch {
  classTrackingPerTxn?: boolean;
  classTrackingPerTxnLine?: boolean;
  trackDepartments?: boolean;
  departmentTerminology?: string;
}

export class QuickBooksAdmin {
  readonly companies = new Map<string, Company>();
  readonly oauth: OAuthStore;
  readonly accounting: Accounting;
  readonly webhooks: WebhookNotifier;
  private readonly seeds = new Map<string, CreateCompanyInput>();
  /** Called after every change (persistence hooks in here). */
  onDirty: () => void = () => {};

  constructor(
    readonly clock: EmulatorClock,
    readonly faults: FaultInjector,
    readonly limits: RealmLimits,
    readonly requestIds: RequestIdCache,
    retryScheduleMs?: number[],
  ) {
    this.oauth = new OAuthStore(() => clock.nowMs());
    this.webhooks = new WebhookNotifier(clock, faults, retryScheduleMs);
    this.accounting = new Accounting(
      () => clock.nowMs(),
      (company, entity, id, operation, at) => this.changed(company.realmId, entity, id, operation, at),
    );
  }

  createCompany(input: CreateCompanyInput): { realmId: string } {
    let realmId: string;
    do realmId = `9341${String(randomInt(0, 1e12)).padStart(12, '0')}`;
    while (this.companies.has(realmId));
    this.buildCompany(realmId, input);
    this.onDirty();
    return { realmId };
  }

  company(realmId: string): Company | undefined {
    return this.companies.get(realmId);
  }

  listCompanies(): Array<{
    realmId: string;
    name: string;
    country: Country;
    currency: string;
    multiCurrency: boolean;
  }> {
    return [...this.companies.values()].map((c) => ({
      realmId: c.realmId,
      name: c.settings.name,
      country: c.settings.country,
      currency: c.settings.currency,
      multiCurrency: c.settings.multiCurrency,
    }));
  }

  updateSettings(
    realmId: string,
    input: Partial<
      Pick<CompanySettings, 'multiCurrency' | 'enforceUniqueDocNumbers' | 'customTxnNumbers' | 'exchangeRates' | 'name'>
    > &
      TrackingPatch,
  ): CompanySettings & TrackingPatch {
    const company = this.require(realmId);
    const { classTrackingPerTxn, classTrackingPerTxnLine, trackDepartments, departmentTerminology, ...patch } = input;
    if (patch.multiCurrency === false && company.settings.multiCurrency)
      throw new Error('multicurrency cannot be turned off once it is on (as in QuickBooks)');
    Object.assign(company.settings, patch);
    const prefs = company.get('Preferences', '1');
    // Class and location tracking live in Preferences only, as in QuickBooks (a company turns them on in its settings).
    const accounting: Rec = { ...((prefs?.AccountingInfoPrefs as Rec | undefined) ?? {}) };
    if (classTrackingPerTxn !== undefined) accounting.ClassTrackingPerTxn = classTrackingPerTxn;
    if (classTrackingPerTxnLine !== undefined) accounting.ClassTrackingPerTxnLine = classTrackingPerTxnLine;
    if (trackDepartments !== undefined) accounting.TrackDepartments = trackDepartments;
    if (departmentTerminology !== undefined) accounting.DepartmentTerminology = departmentTerminology;
    // A company that tracks locations names them; "Location" is QuickBooks' own word for a Department.
    else if (trackDepartments === true && accounting.DepartmentTerminology === undefined)
      accounting.DepartmentTerminology = 'Location';
    if (prefs) {
      prefs.AccountingInfoPrefs = accounting;
      prefs.CurrencyPrefs = {
        MultiCurrencyEnabled: company.settings.multiCurrency,
        HomeCurrency: { value: company.settings.currency },
      };
      const sales = prefs.SalesFormsPrefs as Rec | undefined;
      if (sales) sales.CustomTxnNumbers = company.settings.customTxnNumbers;
    }
    this.onDirty();
    return {
      ...company.settings,
      classTrackingPerTxn: accounting.ClassTrackingPerTxn === true,
      classTrackingPerTxnLine: accounting.ClassTrackingPerTxnLine === true,
      trackDepartments: accounting.TrackDepartments === true,
      ...(typeof accounting.DepartmentTerminology === 'string'
        ? { departmentTerminology: accounting.DepartmentTerminology }
        : {}),
    };
  }

  /** Back to the state right after creation (same realmId and settings). */
  resetCompany(realmId: string): void {
    this.require(realmId);
    this.buildCompany(realmId, this.seeds.get(realmId) ?? { country: 'US' });
    this.requestIds.forgetRealm(realmId);
    this.onDirty();
  }

  deleteCompany(realmId: string): void {
    this.require(realmId);
    this.companies.delete(realmId);
    this.seeds.delete(realmId);
    this.oauth.revokeRealm(realmId);
    this.requestIds.forgetRealm(realmId);
    this.onDirty();
  }

  resetAll(): void {
    this.companies.clear();
    this.seeds.clear();
    this.limits.reset();
    this.onDirty();
  }

  listEntities(realmId: string, entity: EntityName): Rec[] {
    return [...this.require(realmId).table(entity).values()];
  }

  mintToken(realmId: string, clientId?: string): TokenResponse {
    this.require(realmId);
    if (clientId && !this.oauth.apps.has(clientId)) throw new Error(`unknown clientId ${clientId}`);
    const tokens = this.oauth.mint(realmId, clientId);
    this.onDirty();
    return tokens;
  }

  revokeTokens(target: { realmId?: string; token?: string }): number {
    let count = 0;
    if (target.token && this.oauth.revoke(target.token)) count++;
    if (target.realmId) count += this.oauth.revokeRealm(target.realmId);
    this.onDirty();
    return count;
  }

  registerApp(app: App): App {
    const registered = this.oauth.registerApp(app);
    this.onDirty();
    return registered;
  }

  advanceClock(ms: number): { now: string } {
    this.clock.advance(ms);
    return { now: this.clock.now().toISOString() };
  }

  configureWebhooks(subscriptions: WebhookSubscription[]): void {
    this.webhooks.configure(subscriptions);
    this.onDirty();
  }

  configureFaults(config: FaultConfig): void {
    this.faults.configure(config);
  }

  /** A synthetic change sent to every subscription now (Intuit's "send test event"). */
  sendTestEvent(realmId: string): number {
    const events: ChangeEvent[] = [
      { realmId, entity: 'Customer', id: '1', operation: 'Update', at: this.clock.nowMs() },
    ];
    let sent = 0;
    for (const sub of this.webhooks.list()) {
      this.webhooks.sendEvents(sub, events);
      sent++;
    }
    return sent;
  }

  snapshot(): EmulatorSnapshot {
    return {
      version: 1,
      savedAt: this.clock.now().toISOString(),
      companies: [...this.companies.values()].map((c) => ({ ...c.snapshot(), seed: this.seeds.get(c.realmId) })),
      oauth: this.oauth.snapshot(),
      webhooks: [...this.webhooks.list()],
    };
  }

  restore(snapshot: EmulatorSnapshot): void {
    for (const data of snapshot.companies) {
      this.companies.set(data.realmId, Company.fromSnapshot(data));
      if (data.seed) this.seeds.set(data.realmId, data.seed as CreateCompanyInput);
    }
    this.oauth.restore(snapshot.oauth);
    this.webhooks.configure(snapshot.webhooks);
  }

  nameLists(): ReadonlySet<EntityName> {
    return nameListEntities;
  }

  private require(realmId: string): Company {
    const company = this.companies.get(realmId);
    if (!company) throw new Error(`no company with realmId ${realmId}`);
    return company;
  }

  private buildCompany(realmId: string, input: CreateCompanyInput): Company {
    const defaults = countryDefaults[input.country];
    const settings: CompanySettings = {
      name: input.name ?? `Sandbox Company_${input.country}_${realmId.slice(-4)}`,
      country: input.country,
      currency: input.currency ?? defaults.currency,
      offsetMinutes: input.offsetMinutes ?? defaults.offsetMinutes,
      multiCurrency: input.multiCurrency ?? false,
      enforceUniqueDocNumbers: input.enforceUniqueDocNumbers ?? true,
      customTxnNumbers: input.customTxnNumbers ?? false,
      exchangeRates: input.exchangeRates ?? {},
    };
    const now = this.clock.nowMs();
    // Seed records are stamped a moment before "now" so they never look like changes to a CDC asked from creation time.
    const company = new Company(realmId, settings, now);
    seedCompany(company, now - 1000, {
      ...(input.salesTaxPercent !== undefined ? { usSalesTaxPercent: input.salesTaxPercent } : {}),
      ...(input.sampleData ? { sampleData: true } : {}),
    });
    this.companies.set(realmId, company);
    this.seeds.set(realmId, input);
    return company;
  }

  private changed(realmId: string, entity: EntityName, id: string, operation: ChangeOperation, at: number): void {
    this.webhooks.record({ realmId, entity, id, operation, at });
    this.onDirty();
  }
}
