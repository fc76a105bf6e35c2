// Entry point: startHighLevelEmulator(options) serves a faithful local HighLevel API (services.leadconnectorhq.com)
// on a free or given port, for tests in-process and for `ledgerlink emulator highlevel`.
import { readFile, writeFile, rename } from 'node:fs/promises';
import { listen, type RequestObserver } from '../common/http.ts';
import { registerAdminRoutes } from './admin.ts';
import { HighLevelCore, type CoreOptions, type EmulatorSnapshot } from './core.ts';
import { HttpContext } from './http.ts';
import type { Location } from './model.ts';
import { registerContactRoutes } from './routes/contacts.ts';
import { registerInvoiceRoutes } from './routes/invoices.ts';
import { registerLocationRoutes } from './routes/locations.ts';
import { registerMessagingRoutes } from './routes/messaging.ts';
import { registerOAuthRoutes } from './routes/oauth.ts';
import { registerAppPages } from './routes/appPages.ts';
import { registerPaymentRoutes } from './routes/payments.ts';
import { registerProductRoutes } from './routes/products.ts';
import type { StoreSnapshot } from './store.ts';

export interface HighLevelEmulatorOptions extends CoreOptions {
  port?: number;
  host?: string;
  /** JSON file to load at start (if it exists) and save to on close and on POST /_emulator/save. */
  dataFile?: string;
  logger?: boolean;
  /** Called with every request served, timed (benchmarks). */
  observe?: RequestObserver;
}

export interface HighLevelEmulator {
  url: string;
  port: number;
  core: HighLevelCore;
  context: HttpContext;
  /** Shortcuts for tests (same as the fixed admin calls). */
  createLocation(input: {
    country: string;
    name?: string;
    currency?: string;
    allowDuplicateContact?: boolean;
  }): Location;
  mintToken(locationId: string, scopes?: string[]): { access_token: string; refresh_token: string; userId: string };
  webhookPublicKeyPem(): string;
  flushWebhooks(): Promise<void>;
  save(file?: string): Promise<string | null>;
  close(): Promise<void>;
}

export async function startHighLevelEmulator(options: HighLevelEmulatorOptions = {}): Promise<HighLevelEmulator> {
  const core = new HighLevelCore(options);
  if (options.dataFile) {
    const text = await readFile(options.dataFile, 'utf8').catch(() => null);
    if (text) core.restore(JSON.parse(text) as EmulatorSnapshot | StoreSnapshot);
    // Explicit credentials win over saved ones.
    if (options.clientId)
      Object.assign(core.app, { clientId: options.clientId, appId: options.clientId.split('-')[0] ?? core.app.appId });
    if (options.clientSecret) core.app.clientSecret = options.clientSecret;
  }
  const context = new HttpContext(core, { logger: options.logger ?? false });
  const save = async (file?: string): Promise<string | null> => {
    const target = file ?? options.dataFile;
    if (!target) return null;
    const tmp = `${target}.tmp`;
    await writeFile(tmp, JSON.stringify(core.snapshot()), { mode: 0o600 });
    await rename(tmp, target);
    return target;
  };
  registerOAuthRoutes(context);
  registerLocationRoutes(context);
  registerContactRoutes(context);
  registerInvoiceRoutes(context);
  registerPaymentRoutes(context);
  registerProductRoutes(context);
  registerMessagingRoutes(context);
  registerAdminRoutes(context, { save });
  registerAppPages(context);
  const { url, port } = await listen(context.app, options.port ?? 0, options.host ?? '127.0.0.1', options.observe);
  let closed = false;
  return {
    url,
    port,
    core,
    context,
    createLocation: (input) => core.createLocation(input),
    mintToken: (locationId, scopes) => {
      const location = core.store.locations.get(locationId);
      if (!location) throw new Error(`no location ${locationId}`);
      const pair = context.auth.mint({ userType: 'Location', companyId: location.companyId, locationId, scopes });
      return { access_token: pair.access.token, refresh_token: pair.refresh?.token ?? '', userId: pair.access.userId };
    },
    webhookPublicKeyPem: () => core.webhooks.ed25519PublicKeyPem(),
    flushWebhooks: () => core.webhooks.dispatcher.flush(),
    save,
    close: async () => {
      if (closed) return;
      closed = true;
      if (options.dataFile) await save();
      core.close();
      await context.app.close();
    },
  };
}

export { HighLevelCore } from './core.ts';
export { computeDocumentTotals } from './documentTotals.ts';
export { WEBHOOK_EVENT_TYPES } from './webhookEvents.ts';
