// The emulator's state and shared services, independent of HTTP: data, clock, faults, webhooks, the marketplace
// app's identity and rate limits. Routes and admin actions work through this object.
import { EmulatorClock } from '../common/clock.ts';
import { FaultInjector } from '../common/faults.ts';
import { WindowLimiter } from '../common/ratelimit.ts';
import { alphanumericId, objectId, uuid } from './ids.ts';
import type { Company, Location, Product, Workflow } from './model.ts';
import { HighLevelStore, type StoreSnapshot } from './store.ts';
import { WebhookEmitter } from './webhookEvents.ts';

/** HighLevel's documented limits per marketplace app and resource (location or company): reference §6. */
export const BURST_LIMIT = 100;
export const BURST_WINDOW_MS = 10_000;
export const DAILY_LIMIT = 200_000;
export const DAY_MS = 86_400_000;

/** Access tokens live about a day (expires_in 86399 s). */
export const ACCESS_TOKEN_TTL_S = 86_399;
/** Refresh tokens: one year until used (docs/oauth/Authorization.md FAQ). */
export const REFRESH_TOKEN_TTL_MS = 365 * DAY_MS;

/** Every scope the project's flows use (reference §1.4), granted by default to minted tokens. */
export const ALL_SCOPES = [
  'contacts.readonly',
  'contacts.write',
  'invoices.readonly',
  'invoices.write',
  'payments/orders.readonly',
  'payments/orders.write',
  'payments/orders.collectPayment',
  'payments/transactions.readonly',
  'payments/subscriptions.readonly',
  'locations.readonly',
  'locations/customFields.readonly',
  'locations/customFields.write',
  'locations/tags.readonly',
  'locations/tags.write',
  'conversations.readonly',
  'conversations.write',
  'conversations/message.readonly',
  'conversations/message.write',
  'workflows.readonly',
  'products.readonly',
  'products.write',
  'oauth.readonly',
  'oauth.write',
];

export interface AppIdentity {
  appId: string;
  clientId: string;
  clientSecret: string;
  versionId: string;
}

export interface CoreOptions {
  clockFactor?: number;
  /** Multiplies HighLevel's limits (0.1 = a tenth); Infinity or `rateLimits: 'off'` lifts them. */
  limitFactor?: number;
  faultSeed?: number;
  clientId?: string;
  clientSecret?: string;
  webhookRetryScheduleMs?: number[];
  webhookTimeoutMs?: number;
  /** HighLevel's contact search is eventually consistent: new contacts appear in search after this many ms. */
  searchLagMs?: number;
}

export class HighLevelCore {
  readonly store = new HighLevelStore();
  readonly clock: EmulatorClock;
  readonly faults: FaultInjector;
  readonly webhooks: WebhookEmitter;
  readonly app: AppIdentity;
  limitFactor: number;
  burst!: WindowLimiter;
  daily!: WindowLimiter;
  /** Counts served requests (admin stats). */
  requestCount = 0;
  /** Requests to HighLevel's API (the admin API's own not counted). */
  apiRequestCount = 0;
  searchLagMs: number;

  constructor(options: CoreOptions = {}) {
    this.clock = new EmulatorClock({ factor: options.clockFactor ?? 1 });
    this.faults = new FaultInjector(options.faultSeed ?? 1);
    this.webhooks = new WebhookEmitter(this.clock, this.faults, {
      ...(options.webhookRetryScheduleMs ? { retryScheduleMs: options.webhookRetryScheduleMs } : {}),
      ...(options.webhookTimeoutMs ? { timeoutMs: options.webhookTimeoutMs } : {}),
    });
    this.webhooks.isInstalled = (locationId) => this.store.installs.has(locationId);
    const appId = objectId();
    // client_id looks like "<24hex>-<8 alnum>"; the SDK derives the app id as client_id.split('-')[0].
    const clientId = options.clientId ?? `${appId}-${alphanumericId(8).toLowerCase()}`;
    this.app = {
      appId: clientId.split('-')[0] ?? appId,
      clientId,
      clientSecret: options.clientSecret ?? uuid(),
      versionId: objectId(),
    };
    this.searchLagMs = options.searchLagMs ?? 0;
    this.limitFactor = options.limitFactor ?? 1;
    this.setLimitFactor(this.limitFactor);
  }

  setLimitFactor(factor: number): void {
    this.limitFactor = factor > 0 ? factor : Infinity;
    const lifted = !Number.isFinite(this.limitFactor);
    this.burst = new WindowLimiter({
      limit: lifted ? Infinity : Math.max(1, Math.round(BURST_LIMIT * this.limitFactor)),
      windowMs: BURST_WINDOW_MS,
      clock: this.clock,
    });
    this.daily = new WindowLimiter({
      limit: lifted ? Infinity : Math.max(1, Math.round(DAILY_LIMIT * this.limitFactor)),
      windowMs: DAY_MS,
      clock: this.clock,
    });
  }

  get limitsLifted(): boolean {
    return !Number.isFinite(this.limitFactor);
  }

  nowMs(): number {
    return this.clock.nowMs();
  }

  traceId(): string {
    return uuid();
  }

  defaultCompany(): Company {
    const existing = this.store.companies.values().next().value;
    if (existing) return existing;
    const company: Company = { id: alphanumericId(), name: 'Emulated Agency' };
    this.store.companies.set(company.id, company);
    return company;
  }

  createLocation(input: {
    country: string;
    name?: string | undefined;
    currency?: string | undefined;
    timezone?: string | undefined;
    allowDuplicateContact?: boolean | undefined;
    email?: string | undefined;
    duplicateMatchPriority?: 'email' | 'phone' | undefined;
    installed?: boolean | undefined;
  }): Location {
    const company = this.defaultCompany();
    const country = input.country.toUpperCase();
    const defaults = COUNTRY_DEFAULTS[country] ?? {
      currency: 'USD',
      timezone: 'UTC',
      city: 'Capital City',
      state: '',
      postalCode: '00000',
      phone: '+10000000000',
    };
    const id = alphanumericId();
    const name = input.name ?? `Emulated Business ${country} ${id.slice(0, 4)}`;
    const location: Location = {
      id,
      companyId: company.id,
      name,
      email: input.email ?? `owner+${id.slice(0, 6).toLowerCase()}@example.com`,
      phone: defaults.phone,
      address: '1 Main Street',
      city: defaults.city,
      state: defaults.state,
      postalCode: defaults.postalCode,
      country,
      timezone: input.timezone ?? defaults.timezone,
      website: `https://${id.slice(0, 8).toLowerCase()}.example.com`,
      currency: (input.currency ?? defaults.currency).toUpperCase(),
      // HighLevel's default for new sub-accounts is to not allow duplicate contacts.
      allowDuplicateContact: input.allowDuplicateContact ?? false,
      duplicateMatchPriority: input.duplicateMatchPriority ?? 'email',
      invoiceNumberPrefix: 'INV-',
      nextInvoiceNumber: 1,
      dateAdded: this.clock.now().toISOString(),
    };
    // A new HighLevel sub-account has no workflows: an integration must not count on one being there.
    this.store.locations.set(id, location);
    if (input.installed !== false) this.store.installs.set(id, this.clock.now().toISOString());
    return location;
  }

  /** A workflow built in HighLevel's workflow builder (the API only lists them; the admin API makes them). */
  createProduct(
    locationId: string,
    input: { name: string; productType?: Product['productType'] | undefined; description?: string | undefined },
  ): Product {
    const now = this.nowMs();
    const product: Product = {
      id: objectId(now),
      locationId,
      name: input.name,
      productType: input.productType ?? 'SERVICE',
      description: input.description ?? '',
      createdAt: now,
      updatedAt: now,
    };
    this.store.products.set(product.id, product);
    return product;
  }

  createWorkflow(locationId: string, input: { name: string; status?: Workflow['status'] | undefined }): Workflow {
    const now = this.nowMs();
    const workflow: Workflow = {
      id: uuid(),
      locationId,
      name: input.name,
      status: input.status ?? 'published',
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    this.store.workflows.set(workflow.id, workflow);
    return workflow;
  }

  /** Everything worth keeping across restarts: data, the app's identity, its webhook settings and signing keys. */
  snapshot(): EmulatorSnapshot {
    const w = this.webhooks.config;
    return {
      format: 'ledgerlink-highlevel-emulator/1',
      app: { ...this.app },
      webhook: {
        url: w.url,
        ed25519: w.ed25519,
        rsa: w.rsa,
        events: w.events ? [...w.events] : null,
        envelope: w.envelope,
      },
      keys: this.webhooks.exportKeys(),
      store: this.store.snapshot(),
    };
  }

  restore(snapshot: EmulatorSnapshot | StoreSnapshot): void {
    if (!('format' in snapshot)) {
      this.store.restore(snapshot);
      return;
    }
    Object.assign(this.app, snapshot.app);
    const w = this.webhooks.config;
    w.url = snapshot.webhook.url;
    w.ed25519 = snapshot.webhook.ed25519;
    w.rsa = snapshot.webhook.rsa;
    w.events = snapshot.webhook.events ? new Set(snapshot.webhook.events) : null;
    w.envelope = snapshot.webhook.envelope ?? true;
    this.webhooks.importKeys(snapshot.keys);
    this.store.restore(snapshot.store);
  }

  close(): void {
    this.webhooks.close();
  }
}

export interface EmulatorSnapshot {
  format: 'ledgerlink-highlevel-emulator/1';
  app: AppIdentity;
  webhook: { url: string | null; ed25519: boolean; rsa: boolean; events: string[] | null; envelope?: boolean };
  keys: { ed25519: string; rsa: string };
  store: StoreSnapshot;
}

const COUNTRY_DEFAULTS: Record<
  string,
  { currency: string; timezone: string; city: string; state: string; postalCode: string; phone: string }
> = {
  US: {
    currency: 'USD',
    timezone: 'America/Chicago',
    city: 'Austin',
    state: 'TX',
    postalCode: '78701',
    phone: '+15125550100',
  },
  CA: {
    currency: 'CAD',
    timezone: 'America/Toronto',
    city: 'Toronto',
    state: 'ON',
    postalCode: 'M5H 2N2',
    phone: '+14165550100',
  },
  GB: {
    currency: 'GBP',
    timezone: 'Europe/London',
    city: 'London',
    state: '',
    postalCode: 'EC1A 1BB',
    phone: '+442071838750',
  },
  AU: {
    currency: 'AUD',
    timezone: 'Australia/Sydney',
    city: 'Sydney',
    state: 'NSW',
    postalCode: '2000',
    phone: '+61291234567',
  },
  FR: {
    currency: 'EUR',
    timezone: 'Europe/Paris',
    city: 'Paris',
    state: '',
    postalCode: '75001',
    phone: '+33142685300',
  },
  DE: {
    currency: 'EUR',
    timezone: 'Europe/Berlin',
    city: 'Berlin',
    state: 'BE',
    postalCode: '10115',
    phone: '+493012345678',
  },
  IN: {
    currency: 'INR',
    timezone: 'Asia/Kolkata',
    city: 'Mumbai',
    state: 'MH',
    postalCode: '400001',
    phone: '+912212345678',
  },
};
