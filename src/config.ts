// Configuration from the environment, parsed once at the edge. Every variable is documented in
// docs/configuration.md. Without provider credentials, `ledgerlink start` runs against the local emulators.
import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from './log.ts';

/** A configuration ledgerlink cannot run with; its message names the variable and the fix. */
export class ConfigError extends Error {}

const optionalUrl = z.string().url().optional();
const flag = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');

const envSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  /** Prepared statements on PostgreSQL (on unless 'false': a pooler that cannot keep them needs them off). */
  LEDGERLINK_PREPARED_STATEMENTS: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => v !== 'false' && v !== '0'),
  LEDGERLINK_DATA_DIR: z.string().min(1).default('.data'),
  LEDGERLINK_SECRET_KEY: z.string().min(1).optional(),
  LEDGERLINK_HOST: z.string().min(1).default('127.0.0.1'),
  LEDGERLINK_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Where Intuit and HighLevel reach this deployment (OAuth redirects, webhooks). */
  LEDGERLINK_PUBLIC_URL: optionalUrl,
  /** Which reverse proxy's X-Forwarded-For to believe (unset: none; the socket's address is the client's). */
  LEDGERLINK_TRUST_PROXY: z.string().trim().max(2000).optional(),
  /** Run only workers (no HTTP server): `ledgerlink worker`. */
  LEDGERLINK_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  LEDGERLINK_PAYMENT_CONCURRENCY: z.coerce.number().int().min(1).max(512).optional(),
  LEDGERLINK_POLL_SECONDS: z.coerce.number().min(1).max(3600).default(60),
  LEDGERLINK_CDC_POLL_SECONDS: z.coerce.number().min(1).max(3600).default(180),
  LEDGERLINK_LIMITS_OFF: flag,
  /** The dashboard's admin password, set (or reset) at start; unset: the first visit creates the admin with a setup code. */
  LEDGERLINK_ADMIN_PASSWORD: z.string().min(10, 'use at least 10 characters').max(1000).optional(),
  LEDGERLINK_ADMIN_USER: z.string().min(1).max(100).default('admin'),
  /** Seconds after which a job still running is taken for dead (its worker was killed) and retried. */
  LEDGERLINK_JOB_EXPIRE_SECONDS: z.coerce.number().int().min(2).max(3600).default(120),
  /** Days activity entries are kept (open errors and the newest entry of each linked record are always kept). */
  LEDGERLINK_ACTIVITY_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(90),
  /** Days inbox events are kept. At least a day: the inbox also collapses a webhook delivered again. */
  LEDGERLINK_INBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(30),
  /** How much the process logs (docs/operations.md). */
  LEDGERLINK_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** Bearer token /metrics requires; unset: /metrics is not served. */
  LEDGERLINK_METRICS_TOKEN: z.string().min(16, 'use at least 16 characters (openssl rand -hex 32)').optional(),
  /** A port of its own for /metrics, /healthz and /readyz, without token (workers are scraped this way). */
  LEDGERLINK_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LEDGERLINK_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** A provider failing for longer than this needs attention (the card says so; notices go out). */
  LEDGERLINK_ALERT_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .default(600),
  /** Where notices about a connection that needs attention are posted as Slack-compatible JSON, {"text": ...}. */
  LEDGERLINK_ALERT_WEBHOOK_URL: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'use an http(s) URL')
    .optional(),
  /** The SMTP server notices are e-mailed through: smtp://user:password@host:587 (STARTTLS) or smtps://...:465. */
  LEDGERLINK_ALERT_SMTP_URL: z
    .string()
    .url()
    .refine((u) => /^smtps?:\/\//.test(u), 'use smtp:// or smtps://')
    .optional(),
  /** Who gets the e-mails: one address or several, comma-separated. */
  LEDGERLINK_ALERT_EMAIL_TO: z.string().trim().min(3).max(2000).optional(),
  LEDGERLINK_ALERT_EMAIL_FROM: z.string().trim().min(3).max(320).optional(),
  /** What start does when the token key cannot open stored tokens: refuse (default) or pause those connections. */
  LEDGERLINK_UNREADABLE_TOKENS: z.enum(['refuse', 'pause']).default('refuse'),

  QBO_CLIENT_ID: z.string().min(1).optional(),
  QBO_CLIENT_SECRET: z.string().min(1).optional(),
  QBO_WEBHOOK_VERIFIER_TOKEN: z.string().min(1).optional(),
  QBO_ENVIRONMENT: z.enum(['production', 'sandbox']).default('production'),
  QBO_API_URL: optionalUrl,
  QBO_AUTHORIZE_URL: optionalUrl,
  QBO_TOKEN_URL: optionalUrl,
  QBO_REVOKE_URL: optionalUrl,
  /** QuickBooks Online's web app, where the dashboard's record links open (default by QBO_ENVIRONMENT). */
  QBO_APP_URL: optionalUrl,

  HL_CLIENT_ID: z.string().min(1).optional(),
  HL_CLIENT_SECRET: z.string().min(1).optional(),
  HL_API_URL: optionalUrl,
  HL_AUTHORIZE_URL: optionalUrl,
  /** HighLevel's web app, where the dashboard's record links open (a white-label domain of the agency, say). */
  HL_APP_URL: optionalUrl,
  /** PEM or base64 SPKI of the Ed25519 key that verifies x-ghl-signature (HighLevel's published key by default). */
  HL_WEBHOOK_PUBLIC_KEY: z.string().min(1).optional(),
  /** PEM of the RSA key for the legacy x-wh-signature. */
  HL_WEBHOOK_RSA_PUBLIC_KEY: z.string().min(1).optional(),
});

/**
 * Fastify's trustProxy: false (the socket's address is the client's), true (believe any X-Forwarded-For: only when
 * nothing but the proxy can reach the port), addresses and CIDR ranges of the proxies, or a count of proxy hops.
 */
export type TrustProxy = boolean | string | ((address: string, hop: number) => boolean);

export function parseTrustProxy(value: string | undefined): TrustProxy {
  const v = (value ?? '').trim();
  if (v === '' || v === 'false' || v === '0') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return (_address, hop) => hop < hops;
  }
  return v;
}

export interface ProviderConfig {
  quickbooks: {
    clientId: string;
    clientSecret: string;
    webhookVerifierToken: string | undefined;
    apiUrl: string;
    /** The provider's web app (records open at its paths); absent: no link to the provider's app. */
    appUrl?: string | undefined;
    authorizeUrl: string | undefined;
    tokenUrl: string | undefined;
    revokeUrl: string | undefined;
  };
  highlevel: {
    clientId: string;
    clientSecret: string;
    apiUrl: string;
    appUrl?: string | undefined;
    authorizeUrl: string | undefined;
    webhookPublicKey: string | undefined;
    webhookRsaPublicKey: string | undefined;
  };
}

export interface Config {
  /** PostgreSQL server; absent means the embedded PGlite store in dataDir. */
  databaseUrl: string | undefined;
  /** Run statements with values as prepared statements on PostgreSQL (src/store/db.ts). */
  preparedStatements: boolean;
  dataDir: string;
  pgliteDir: string;
  secretKey: string | undefined;
  host: string;
  port: number;
  publicUrl: string | undefined;
  /** LEDGERLINK_TRUST_PROXY as Fastify takes it. */
  trustProxy: TrustProxy;
  workerConcurrency: number;
  /** Payment jobs at once per process; undefined: 8 × workerConcurrency (src/sync/engine/engine.ts). */
  paymentConcurrency: number | undefined;
  pollSeconds: number;
  cdcPollSeconds: number;
  limitsOff: boolean;
  /** The dashboard's first admin, from the environment (absent: created on the first visit). */
  admin: { username: string; password: string } | undefined;
  jobExpireSeconds: number;
  /** How long activity and inbox history is kept, in days (src/store/retention.ts). */
  retention: { activityDays: number; inboxDays: number };
  logLevel: LogLevel;
  metricsToken: string | undefined;
  /** The separate metrics listener's port (undefined: none) and address. */
  metricsPort: number | undefined;
  metricsHost: string;
  /** At start, connections whose tokens the key cannot open stop the start ('refuse') or are paused ('pause'). */
  unreadableTokens: 'refuse' | 'pause';
  /** When a connection needs attention and where notices about it go (docs/configuration.md). */
  alerts: AlertConfig;
  /** Present when real provider credentials are configured; absent means the demo against the emulators. */
  providers: ProviderConfig | undefined;
}

export interface AlertConfig {
  afterSeconds: number;
  webhookUrl: string | undefined;
  email: { smtpUrl: string; to: string[]; from: string } | undefined;
}

const EMAIL_ADDRESS = /^[^\s<>@,]+@[^\s<>@,]+$/;

function alertConfig(e: z.infer<typeof envSchema>): AlertConfig {
  let email: AlertConfig['email'];
  if (e.LEDGERLINK_ALERT_SMTP_URL || e.LEDGERLINK_ALERT_EMAIL_TO) {
    if (!e.LEDGERLINK_ALERT_SMTP_URL || !e.LEDGERLINK_ALERT_EMAIL_TO) {
      throw new ConfigError(
        'invalid configuration: set both LEDGERLINK_ALERT_SMTP_URL and LEDGERLINK_ALERT_EMAIL_TO to e-mail notices, or neither',
      );
    }
    const to = e.LEDGERLINK_ALERT_EMAIL_TO.split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    const bad = to.find((a) => !EMAIL_ADDRESS.test(a));
    if (bad !== undefined || to.length === 0)
      throw new ConfigError(
        `invalid configuration: LEDGERLINK_ALERT_EMAIL_TO holds something that is not an e-mail address: ${JSON.stringify(bad ?? '')}`,
      );
    const from = e.LEDGERLINK_ALERT_EMAIL_FROM ?? to[0]!;
    if (!EMAIL_ADDRESS.test(from))
      throw new ConfigError('invalid configuration: LEDGERLINK_ALERT_EMAIL_FROM is not an e-mail address');
    email = { smtpUrl: e.LEDGERLINK_ALERT_SMTP_URL, to, from };
  }
  return { afterSeconds: e.LEDGERLINK_ALERT_AFTER_SECONDS, webhookUrl: e.LEDGERLINK_ALERT_WEBHOOK_URL, email };
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems} (see docs/configuration.md)`);
  }
  const e = parsed.data;
  const hasQbo = Boolean(e.QBO_CLIENT_ID && e.QBO_CLIENT_SECRET);
  const hasHl = Boolean(e.HL_CLIENT_ID && e.HL_CLIENT_SECRET);
  if (hasQbo !== hasHl) {
    throw new ConfigError(
      'invalid configuration: set both QBO_CLIENT_ID/QBO_CLIENT_SECRET and HL_CLIENT_ID/HL_CLIENT_SECRET, or neither (demo mode)',
    );
  }
  const providers: ProviderConfig | undefined = hasQbo
    ? {
        quickbooks: {
          clientId: e.QBO_CLIENT_ID!,
          clientSecret: e.QBO_CLIENT_SECRET!,
          webhookVerifierToken: e.QBO_WEBHOOK_VERIFIER_TOKEN,
          apiUrl:
            e.QBO_API_URL ??
            (e.QBO_ENVIRONMENT === 'sandbox'
              ? 'https://sandbox-quickbooks.api.intuit.com'
              : 'https://quickbooks.api.intuit.com'),
          appUrl:
            e.QBO_APP_URL ??
            (e.QBO_ENVIRONMENT === 'sandbox' ? 'https://app.sandbox.qbo.intuit.com' : 'https://app.qbo.intuit.com'),
          authorizeUrl: e.QBO_AUTHORIZE_URL,
          tokenUrl: e.QBO_TOKEN_URL,
          revokeUrl: e.QBO_REVOKE_URL,
        },
        highlevel: {
          clientId: e.HL_CLIENT_ID!,
          clientSecret: e.HL_CLIENT_SECRET!,
          apiUrl: e.HL_API_URL ?? 'https://services.leadconnectorhq.com',
          appUrl: e.HL_APP_URL ?? 'https://app.gohighlevel.com',
          authorizeUrl: e.HL_AUTHORIZE_URL,
          webhookPublicKey: e.HL_WEBHOOK_PUBLIC_KEY,
          webhookRsaPublicKey: e.HL_WEBHOOK_RSA_PUBLIC_KEY,
        },
      }
    : undefined;
  return {
    databaseUrl: e.DATABASE_URL,
    preparedStatements: e.LEDGERLINK_PREPARED_STATEMENTS,
    dataDir: e.LEDGERLINK_DATA_DIR,
    pgliteDir: `${e.LEDGERLINK_DATA_DIR}/pglite`,
    secretKey: e.LEDGERLINK_SECRET_KEY,
    host: e.LEDGERLINK_HOST,
    port: e.LEDGERLINK_PORT,
    publicUrl: e.LEDGERLINK_PUBLIC_URL,
    trustProxy: parseTrustProxy(e.LEDGERLINK_TRUST_PROXY),
    workerConcurrency: e.LEDGERLINK_WORKER_CONCURRENCY,
    paymentConcurrency: e.LEDGERLINK_PAYMENT_CONCURRENCY,
    pollSeconds: e.LEDGERLINK_POLL_SECONDS,
    cdcPollSeconds: e.LEDGERLINK_CDC_POLL_SECONDS,
    limitsOff: e.LEDGERLINK_LIMITS_OFF,
    admin: e.LEDGERLINK_ADMIN_PASSWORD
      ? { username: e.LEDGERLINK_ADMIN_USER, password: e.LEDGERLINK_ADMIN_PASSWORD }
      : undefined,
    jobExpireSeconds: e.LEDGERLINK_JOB_EXPIRE_SECONDS,
    retention: { activityDays: e.LEDGERLINK_ACTIVITY_RETENTION_DAYS, inboxDays: e.LEDGERLINK_INBOX_RETENTION_DAYS },
    logLevel: e.LEDGERLINK_LOG_LEVEL,
    metricsToken: e.LEDGERLINK_METRICS_TOKEN,
    metricsPort: e.LEDGERLINK_METRICS_PORT,
    metricsHost: e.LEDGERLINK_METRICS_HOST,
    unreadableTokens: e.LEDGERLINK_UNREADABLE_TOKENS,
    alerts: alertConfig(e),
    providers,
  };
}
