// Test helpers: an emulator on a free port, a company with a minted token, and a tiny fetch client that speaks
// to the Accounting API the way real QuickBooks clients do.
import type { QuickBooksEmulator, QuickBooksEmulatorOptions } from '../../../emulators/quickbooks/index.ts';
import { startQuickBooksEmulator } from '../../../emulators/quickbooks/index.ts';

export type Json = Record<string, unknown>;

export interface ApiAnswer {
  status: number;
  body: Json;
  headers: Headers;
  text: string;
}

export interface Sandbox {
  emulator: QuickBooksEmulator;
  realmId: string;
  accessToken: string;
  refreshToken: string;
  api(
    method: string,
    path: string,
    body?: unknown,
    init?: { contentType?: string; token?: string; raw?: string },
  ): Promise<ApiAnswer>;
  admin(method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  close(): Promise<void>;
}

export async function request(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiAnswer> {
  const init: RequestInit = { method, headers: { accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let parsed: Json = {};
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    parsed = {};
  }
  return { status: response.status, body: parsed, headers: response.headers, text };
}

export async function startSandbox(
  options: QuickBooksEmulatorOptions & { country?: 'US' | 'CA' | 'GB' | 'AU'; companyOptions?: Json } = {},
): Promise<Sandbox> {
  const emulator = await startQuickBooksEmulator({ limits: false, ...options });
  const admin = (method: string, path: string, body?: unknown): Promise<ApiAnswer> =>
    request(`${emulator.url}/_emulator${path}`, method, body);
  const created = await admin('POST', '/companies', {
    country: options.country ?? 'US',
    ...(options.companyOptions ?? {}),
  });
  const realmId = created.body.realmId as string;
  const tokens = await admin('POST', '/tokens', { realmId });
  const accessToken = tokens.body.access_token as string;
  return {
    emulator,
    realmId,
    accessToken,
    refreshToken: tokens.body.refresh_token as string,
    admin,
    api(method, path, body, init = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${init.token ?? accessToken}` };
      if (init.contentType) headers['content-type'] = init.contentType;
      const sep = path.includes('?') ? '&' : '?';
      const url = `${emulator.url}/v3/company/${realmId}/${path}${path.startsWith('companyinfo') || path.includes('minorversion') ? '' : `${sep}minorversion=75`}`;
      return request(url, method, init.raw ?? body, headers);
    },
    close: () => emulator.close(),
  };
}

export function fault(answer: ApiAnswer): { code: string; Message: string; Detail: string; type: string } {
  const f = answer.body.Fault as
    | { Error: Array<{ code: string; Message: string; Detail: string }>; type: string }
    | undefined;
  if (!f) throw new Error(`expected a Fault, got HTTP ${answer.status}: ${answer.text.slice(0, 300)}`);
  return { ...f.Error[0]!, type: f.type };
}

export function entity(answer: ApiAnswer, name: string): Json {
  const e = answer.body[name] as Json | undefined;
  if (!e) throw new Error(`expected ${name}, got HTTP ${answer.status}: ${answer.text.slice(0, 400)}`);
  return e;
}

/** Creates a Service item priced at unitPrice, using the seeded income account. */
export async function createServiceItem(sb: Sandbox, name: string, unitPrice = 100, extra: Json = {}): Promise<Json> {
  const accounts = await sb.api(
    'GET',
    `query?query=${encodeURIComponent("select * from Account where AccountType = 'Income'")}`,
  );
  const income = ((accounts.body.QueryResponse as Json).Account as Json[])[0]!;
  return entity(
    await sb.api('POST', 'item', {
      Name: name,
      Type: 'Service',
      UnitPrice: unitPrice,
      IncomeAccountRef: { value: income.Id },
      ...extra,
    }),
    'Item',
  );
}

export async function createCustomer(sb: Sandbox, displayName: string, extra: Json = {}): Promise<Json> {
  return entity(await sb.api('POST', 'customer', { DisplayName: displayName, ...extra }), 'Customer');
}
