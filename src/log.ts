// The process's log: JSON lines (pino) on stdout, on by default at `info`, level from LEDGERLINK_LOG_LEVEL.
// Secrets never reach a line: every logged object is walked and the values of secret-named keys replaced, and
// strings (messages, error messages and stacks) lose bearer tokens and secret query parameters. The walk is by
// key name at any depth because pino's own `redact` takes fixed paths, and a token can sit anywhere in an
// error's detail or a provider's answer.
import pino from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const REDACTED = '[redacted]';

/** Keys whose values are secrets wherever they appear (case-insensitive; `_` and `-` ignored). */
const SECRET_KEY =
  /^(authorization|proxyauthorization|cookie|setcookie|password|passwd|passphrase|secret|secretkey|clientsecret|token|tokens|accesstoken|refreshtoken|idtoken|apikey|xapikey|verifiertoken|webhookverifiertoken|setupcode|codeverifier|privatekey)$/;
/** Keys ending so are secrets too (qboTokens, hlClientSecret, adminPassword...). */
const SECRET_SUFFIX = /(token|tokens|secret|password|authorization|cookie|apikey)$/;

function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEY.test(k) || SECRET_SUFFIX.test(k);
}

/** Bearer/Basic credentials and secret query parameters inside free text (URLs, messages, stacks). */
export function scrubText(text: string): string {
  return text
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/gi, `$1 ${REDACTED}`)
    .replace(
      /([?&#](?:code|state|access_token|refresh_token|id_token|client_secret|token|password)=)[^&\s"']+/gi,
      `$1${REDACTED}`,
    )
    .replace(
      /(["']?(?:access_token|refresh_token|accessToken|refreshToken|client_secret|clientSecret|password)["']?\s*[:=]\s*["']?)[^"'&\s,}]+/g,
      `$1${REDACTED}`,
    );
}

/** A copy of `value` with secret-named keys redacted and strings scrubbed (depth-limited, cycle-safe). */
export function scrub(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8 || seen.has(value)) return '[…]';
  seen.add(value);
  if (value instanceof Error) return scrubError(value, depth, seen);
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value;
  if (value instanceof URL) return scrubText(value.href);
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1, seen));
  // Instances of other classes (Fastify's request and reply) are left to their serializers below.
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSecretKey(key) && item !== undefined && item !== null ? REDACTED : scrub(item, depth + 1, seen);
  }
  return out;
}

/** pino's error serializer (type, message, stack, cause and own fields), scrubbed. */
function scrubError(error: Error, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  const serialized = pino.stdSerializers.errWithCause(error) as unknown as Record<string, unknown>;
  seen.delete(serialized);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(serialized)) {
    out[key] = isSecretKey(key) && item !== undefined && item !== null ? REDACTED : scrub(item, depth + 1, seen);
  }
  return out;
}

export interface LoggerOptions {
  level?: LogLevel | string;
  /** Where lines go (stdout by default); tests pass a stream to read them. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): pino.Logger {
  const settings: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      // Runs before the serializers, on the object passed to the log call.
      log: (object) => scrub(object) as Record<string, unknown>,
    },
    serializers: {
      err: (error: unknown) => (error instanceof Error ? scrubError(error) : scrub(error)),
      msg: (message: unknown) => (typeof message === 'string' ? scrubText(message) : message),
      // Fastify's default error handler logs the request: its URL may carry an OAuth code in the query.
      req: (request: { id?: unknown; method?: string; url?: string }) => ({
        id: request.id,
        method: request.method,
        url: scrubText(String(request.url ?? '')),
      }),
    },
  };
  return options.stream ? pino(settings, options.stream as pino.DestinationStream) : pino(settings);
}
