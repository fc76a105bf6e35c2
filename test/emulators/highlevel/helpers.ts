// Shared test helpers: the emulator in-process on a free port, a small HighLevel HTTP caller, and a local
// webhook receiver that keeps the raw bytes it was sent (signatures are checked over those bytes).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  startHighLevelEmulator,
  type HighLevelEmulator,
  type HighLevelEmulatorOptions,
} from '../../../emulators/highlevel/index.ts';

export type Json = Record<string, unknown>;

export interface Answer {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

export class Api {
  constructor(
    readonly emulator: HighLevelEmulator,
    public token = '',
    public version: string | null = '2021-07-28',
  ) {}

  get url(): string {
    return this.emulator.url;
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
    options: { token?: string | null; version?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    const token = options.token === undefined ? this.token : options.token;
    const version = options.version === undefined ? this.version : options.version;
    if (token) headers.authorization = `Bearer ${token}`;
    if (version) headers.version = version;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(this.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: Json = {};
    try {
      parsed = text ? (JSON.parse(text) as Json) : {};
    } catch {
      parsed = {};
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  }

  get(path: string, options?: Parameters<Api['call']>[3]): Promise<Answer> {
    return this.call('GET', path, undefined, options);
  }

  post(path: string, body?: unknown, options?: Parameters<Api['call']>[3]): Promise<Answer> {
    return this.call('POST', path, body ?? {}, options);
  }

  put(path: string, body?: unknown, options?: Parameters<Api['call']>[3]): Promise<Answer> {
    return this.call('PUT', path, body ?? {}, options);
  }

  delete(path: string, body?: unknown, options?: Parameters<Api['call']>[3]): Promise<Answer> {
    return this.call('DELETE', path, body, options);
  }

  /** Admin calls need neither token nor Version. */
  admin(method: string, path: string, body?: unknown): Promise<Answer> {
    return this.call(method, `/_emulator${path}`, body, { token: null, version: null });
  }
}

export interface Setup {
  emulator: HighLevelEmulator;
  api: Api;
  locationId: string;
  token: string;
  refreshToken: string;
}

/** Emulator + one US location + a location token with every scope. */
export async function setup(
  options: HighLevelEmulatorOptions = {},
  location: Json = { country: 'US' },
): Promise<Setup> {
  const emulator = await startHighLevelEmulator(options);
  const api = new Api(emulator);
  const created = await api.admin('POST', '/locations', location);
  const locationId = String(created.body.locationId);
  const tokens = await api.admin('POST', '/tokens', { locationId });
  api.token = String(tokens.body.access_token);
  return { emulator, api, locationId, token: api.token, refreshToken: String(tokens.body.refresh_token) };
}

export interface ReceivedWebhook {
  raw: Buffer;
  headers: IncomingHttpHeaders;
  payload: Json;
  at: number;
}

/**
 * A local endpoint for the app's webhook URL; `respond` decides each answer's status (default 200). Invoice
 * payloads carry no `type` (as documented), so events are named from the emulator's log of what it sent
 * (`namesFrom`), matched by the exact body.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  respond: (hook: ReceivedWebhook, index: number) => number | 'hang' = () => 200;
  private server: Server | null = null;
  private emulator: HighLevelEmulator | null = null;
  url = '';

  namesFrom(emulator: HighLevelEmulator): this {
    this.emulator = emulator;
    return this;
  }

  /** The event's catalogue name (AppInstall for type INSTALL, InvoicePaid for an invoice body). */
  eventOf(hook: ReceivedWebhook): string {
    const body = hook.raw.toString('utf8');
    const sent = this.emulator?.core.webhooks.emitted.find((e) => e.body === body);
    if (sent) return sent.event;
    return String(hook.payload.type);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let payload: Json = {};
        try {
          payload = JSON.parse(raw.toString('utf8')) as Json;
        } catch {
          payload = {};
        }
        const hook: ReceivedWebhook = { raw, headers: req.headers, payload, at: Date.now() };
        this.received.push(hook);
        const status = this.respond(hook, this.received.length - 1);
        if (status === 'hang') return; // never answers: the sender times out
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhooks/highlevel`;
    return this;
  }

  /** Deliveries whose payload `type` is `type` (ContactCreate, INSTALL…). */
  ofType(type: string): ReceivedWebhook[] {
    return this.received.filter((h) => h.payload.type === type);
  }

  /** Deliveries of one catalogue event, whether or not the payload names itself (needs `namesFrom`). */
  ofEvent(event: string): ReceivedWebhook[] {
    return this.received.filter((h) => this.eventOf(h) === event);
  }

  types(): string[] {
    return this.received.map((h) => String(h.payload.type));
  }

  events(): string[] {
    return this.received.map((h) => this.eventOf(h));
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

export async function waitFor<T>(probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function obj(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`expected an object, got ${JSON.stringify(value)}`);
  return value as Json;
}

export function arr(value: unknown): Json[] {
  if (!Array.isArray(value)) throw new Error(`expected an array, got ${JSON.stringify(value)}`);
  return value as Json[];
}
