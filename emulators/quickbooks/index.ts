// startQuickBooksEmulator: a QuickBooks Online emulator (OAuth, Accounting API v3, webhooks, admin API) on one
// origin, started in-process (tests, the demo) or from the CLI (main.ts).
import { EmulatorClock } from '../common/clock.ts';
import type { FaultConfig } from '../common/faults.ts';
import { FaultInjector } from '../common/faults.ts';
import { listen, type RequestObserver } from '../common/http.ts';
import { QuickBooksAdmin } from './admin.ts';
import type { CreateCompanyInput } from './admin.ts';
import { RequestIdCache } from './idempotency.ts';
import type { LimitSettings } from './limits.ts';
import { RealmLimits, resolveLimits } from './limits.ts';
import type { App } from './oauth.ts';
import { SnapshotWriter, loadSnapshot } from './persist.ts';
import { buildServer } from './server.ts';
import type { WebhookSubscription } from './webhooks.ts';

export type { CreateCompanyInput } from './admin.ts';
export type { QuickBooksAdmin } from './admin.ts';
export type { WebhookSubscription } from './webhooks.ts';
export { signBody } from './webhooks.ts';
export { DEFAULT_APP } from './oauth.ts';

export interface QuickBooksEmulatorOptions {
  /** Port to listen on (0 = a free port; default 0). */
  port?: number;
  host?: string;
  /** JSON file the data is loaded from at start and saved to (debounced after changes, and on close). */
  dataFile?: string;
  /** Scales the per-minute limits (0.1 -> 50 requests a minute); Infinity lifts them. Default 1 (Intuit's values). */
  limitFactor?: number;
  /** false lifts every limit; an object overrides single limits. */
  limits?: false | Partial<LimitSettings>;
  /** Emulated ms per real ms for scheduled work (webhook windows and retries). Default 1. */
  clockFactor?: number;
  /** Share a clock with another emulator. */
  clock?: EmulatorClock;
  /** OAuth apps besides the default one (emulator-client-id / emulator-client-secret). */
  apps?: App[];
  /** Webhook subscriptions (URL, verifier token, format, window). */
  webhooks?: Array<Partial<WebhookSubscription> & Pick<WebhookSubscription, 'url' | 'verifierToken'>>;
  /** Webhook retry delays in emulated ms (default Intuit's 10 s ... 6 h). */
  webhookRetryScheduleMs?: number[];
  faults?: FaultConfig;
  /** Called with every request served, timed (benchmarks). */
  observe?: RequestObserver;
  /** Seed of the fault injector's random sequence. */
  faultSeed?: number;
  /** Companies created at start (ignored when dataFile already holds data). */
  companies?: CreateCompanyInput[];
  /** requestid answers remembered (oldest forgotten first). Default 20000. */
  requestIdCacheSize?: number;
  logger?: boolean;
}

export interface QuickBooksEmulator {
  url: string;
  port: number;
  admin: QuickBooksAdmin;
  clock: EmulatorClock;
  faults: FaultInjector;
  /** Realm ids of options.companies, in order. */
  realmIds: string[];
  /** Saves now (when a dataFile is set). */
  save(): void;
  close(): Promise<void>;
}

export async function startQuickBooksEmulator(options: QuickBooksEmulatorOptions = {}): Promise<QuickBooksEmulator> {
  const clock = options.clock ?? new EmulatorClock({ factor: options.clockFactor ?? 1 });
  const faults = new FaultInjector(options.faultSeed ?? 1);
  if (options.faults) faults.configure(options.faults);
  const limits = new RealmLimits(resolveLimits(options.limits, options.limitFactor), clock);
  const admin = new QuickBooksAdmin(
    clock,
    faults,
    limits,
    new RequestIdCache(options.requestIdCacheSize),
    options.webhookRetryScheduleMs,
  );
  for (const app of options.apps ?? []) admin.registerApp(app);

  const realmIds: string[] = [];
  const loaded = options.dataFile ? loadSnapshot(options.dataFile) : undefined;
  if (loaded) admin.restore(loaded);
  else for (const company of options.companies ?? []) realmIds.push(admin.createCompany(company).realmId);
  if (options.webhooks) {
    admin.configureWebhooks(options.webhooks.map((w) => ({ format: 'cloudevents', windowMs: 3_000, ...w })));
  }
  const writer = options.dataFile ? new SnapshotWriter(options.dataFile, () => admin.snapshot()) : undefined;
  if (writer) admin.onDirty = () => writer.markDirty();
  const save = (): void => writer?.saveNow();

  const app = buildServer(admin, save, options.logger ?? false);
  const { url, port } = await listen(app, options.port ?? 0, options.host ?? '127.0.0.1', options.observe);
  let closed = false;
  return {
    url,
    port,
    admin,
    clock,
    faults,
    realmIds,
    save,
    async close() {
      if (closed) return;
      closed = true;
      admin.webhooks.close();
      await app.close();
      save();
    },
  };
}
