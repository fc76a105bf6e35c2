// Connections: one HighLevel location paired with one QuickBooks company, with both sides' tokens (sealed),
// settings and status. Token refreshes happen one at a time per connection and side, across processes.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db, Queryable } from './db.ts';
import type { SecretBox } from './secrets.ts';
import { hashSecret, newSecret } from './sessions.ts';

export type Side = 'qbo' | 'hl';
export type ConnectionStatus = 'pending' | 'connected' | 'revoked' | 'paused' | 'disconnected';

/**
 * How a review request reaches the contact (HighLevel has no public reviews API): enrolment into one of the
 * location's own workflows, a tag a workflow starts on, or a direct SMS/email sent through conversations. Only the
 * direct message works on a location as HighLevel creates it (no workflows), so it is the default.
 */
export const reviewRequestMechanismSchema = z.discriminatedUnion('method', [
  z.object({
    method: z.literal('workflow'),
    workflowId: z.string().min(1).max(100),
    /** The workflow's name when it was chosen, to say which one is in force without asking HighLevel. */
    workflowName: z.string().max(200).optional(),
  }),
  z.object({ method: z.literal('tag'), tag: z.string().trim().min(1).max(100) }),
  z.object({
    method: z.literal('message'),
    /** auto: SMS when the contact has a phone, else email. */
    channel: z.enum(['auto', 'SMS', 'Email']).default('auto'),
    /** The business's review page (Google, Facebook...); without it the message asks for a reply instead. */
    reviewLink: z
      .url({ protocol: /^https?$/ })
      .max(500)
      .optional(),
    text: z.string().trim().min(1).max(1600).optional(),
  }),
]);
export type ReviewRequestSettings = z.infer<typeof reviewRequestMechanismSchema>;
export const DEFAULT_REVIEW_REQUEST: ReviewRequestSettings = { method: 'message', channel: 'auto' };

/**
 * Stored settings: a workflow without an id (saved when the workflow was looked up by the name "Send Review
 * Request", which a new location never has) reads as the default.
 */
export const reviewRequestSettingsSchema = z.preprocess(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    (value as { method?: unknown }).method === 'workflow' &&
    !(value as { workflowId?: unknown }).workflowId
      ? DEFAULT_REVIEW_REQUEST
      : value,
  reviewRequestMechanismSchema,
);

const qboId = z.string().trim().min(1).max(50);

/**
 * The bookkeeper's choices of the company's own records, each optional: an absent one keeps ledgerlink's automatic
 * choice. They name one QuickBooks company's ids, so they are set aside with the links when the connection switches
 * company, and a change applies to records written from then on (records written earlier stay as they are).
 */
export const bookkeepingMappingsSchema = z.object({
  /** The account sales receipts deposit to (a Bank or Other Current Asset account); absent: Undeposited Funds. */
  depositAccountId: qboId.optional(),
  /** The income account of the items ledgerlink creates; absent: the automatic choice (Services, Sales...). */
  incomeAccountId: qboId.optional(),
  /** HighLevel product id -> the QuickBooks Item its lines are written with; unmapped products keep their own item. */
  products: z
    .record(z.string().min(1).max(100), z.object({ itemId: qboId, productName: z.string().max(200).optional() }))
    .default({}),
  /** The Class every transaction carries, where the company tracks classes. */
  classId: qboId.optional(),
  /** The Department (a "Location" on QuickBooks' screens) every transaction carries, where the company tracks them. */
  departmentId: qboId.optional(),
  /**
   * paymentMethodKey (a card brand, card, cash, cheque, bank_transfer, other) -> QuickBooks PaymentMethod id; a key
   * not listed is found by name, or created once.
   */
  paymentMethods: z.record(z.string().min(1).max(50), qboId).default({}),
});
export type BookkeepingMappings = z.infer<typeof bookkeepingMappingsSchema>;

export const connectionSettingsSchema = z.object({
  /** CRM tax name (lowercase) or "rate:<percent>" -> QuickBooks TaxCode id, chosen by the user (non-US). */
  taxCodeMapping: z.record(z.string(), z.string()).default({}),
  mappings: bookkeepingMappingsSchema.default({ products: {}, paymentMethods: {} }),
  reviewRequest: reviewRequestSettingsSchema.default(DEFAULT_REVIEW_REQUEST),
  /**
   * The HighLevel user who authorised ledgerlink (the `userId` of HighLevel's token answers): the sender of record
   * when ledgerlink marks an imported invoice sent (POST /invoices/{id}/send requires a userId).
   */
  highLevelUserId: z.string().min(1).optional(),
});
export type ConnectionSettings = z.infer<typeof connectionSettingsSchema>;

export const oauthTokensSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  /** ISO time the access token stops working. */
  accessExpiresAt: z.string(),
  refreshExpiresAt: z.string().optional(),
  scope: z.string().optional(),
});
export type OAuthTokens = z.infer<typeof oauthTokensSchema>;

export interface Connection {
  id: string;
  name: string;
  status: ConnectionStatus;
  statusReason: string | null;
  qboRealmId: string | null;
  /** CompanyInfo.CompanyName, read when QuickBooks was connected. */
  qboCompanyName: string | null;
  qboCountry: string | null;
  qboHomeCurrency: string | null;
  qboAccessExpiresAt: Date | null;
  qboRefreshExpiresAt: Date | null;
  hlLocationId: string | null;
  /** The location's name, read when HighLevel was connected. */
  hlLocationName: string | null;
  hlCompanyId: string | null;
  hlCountry: string | null;
  hlAccessExpiresAt: Date | null;
  /** Whether each side has tokens stored (Disconnect forgets both). */
  qboTokensStored: boolean;
  hlTokensStored: boolean;
  /** When the provider refused the side's stored tokens (null: not refused); a reconnect of that side clears it. */
  qboRefusedAt: Date | null;
  hlRefusedAt: Date | null;
  connectedAt: Date | null;
  importOldInvoices: boolean;
  reviewRequests: boolean;
  /** QuickBooks payments on invoices ledgerlink created from CRM invoices are recorded on the CRM invoice. */
  paymentsFromQuickBooks: boolean;
  settings: ConnectionSettings;
  createdAt: Date;
  updatedAt: Date;
}

interface ConnectionRow {
  id: string;
  name: string;
  status: ConnectionStatus;
  status_reason: string | null;
  qbo_realm_id: string | null;
  qbo_company_name: string | null;
  qbo_country: string | null;
  qbo_home_currency: string | null;
  qbo_access_expires_at: Date | string | null;
  qbo_refresh_expires_at: Date | string | null;
  hl_location_id: string | null;
  hl_location_name: string | null;
  hl_company_id: string | null;
  hl_country: string | null;
  hl_access_expires_at: Date | string | null;
  qbo_tokens_stored: boolean;
  hl_tokens_stored: boolean;
  qbo_refused_at: Date | string | null;
  hl_refused_at: Date | string | null;
  connected_at: Date | string | null;
  import_old_invoices: boolean;
  review_requests: boolean;
  payments_from_quickbooks: boolean;
  settings: unknown;
  created_at: Date | string;
  updated_at: Date | string;
}

const columns = `id, name, status, status_reason, qbo_realm_id, qbo_company_name, hl_location_name, qbo_country, qbo_home_currency, qbo_access_expires_at,
  qbo_refresh_expires_at, hl_location_id, hl_company_id, hl_country, hl_access_expires_at,
  qbo_tokens IS NOT NULL AS qbo_tokens_stored, hl_tokens IS NOT NULL AS hl_tokens_stored, qbo_refused_at, hl_refused_at, connected_at,
  import_old_invoices, review_requests, payments_from_quickbooks, settings, created_at, updated_at`;

const date = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));

function fromRow(row: ConnectionRow): Connection {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    statusReason: row.status_reason,
    qboRealmId: row.qbo_realm_id,
    qboCompanyName: row.qbo_company_name ?? null,
    qboCountry: row.qbo_country,
    qboHomeCurrency: row.qbo_home_currency,
    qboAccessExpiresAt: date(row.qbo_access_expires_at),
    qboRefreshExpiresAt: date(row.qbo_refresh_expires_at),
    hlLocationId: row.hl_location_id,
    hlLocationName: row.hl_location_name ?? null,
    hlCompanyId: row.hl_company_id,
    hlCountry: row.hl_country,
    hlAccessExpiresAt: date(row.hl_access_expires_at),
    qboTokensStored: row.qbo_tokens_stored,
    hlTokensStored: row.hl_tokens_stored,
    qboRefusedAt: date(row.qbo_refused_at),
    hlRefusedAt: date(row.hl_refused_at),
    connectedAt: date(row.connected_at),
    importOldInvoices: row.import_old_invoices,
    reviewRequests: row.review_requests,
    paymentsFromQuickBooks: row.payments_from_quickbooks,
    settings: connectionSettingsSchema.parse(
      typeof row.settings === 'string' ? JSON.parse(row.settings) : row.settings,
    ),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** The providers' names, as the dashboard and the messages say them. */
export const PROVIDER_NAME: Readonly<Record<Side, string>> = { qbo: 'QuickBooks', hl: 'HighLevel' };

/**
 * The sides that need their own reconnect before the connection can sync: an attached side whose tokens are missing
 * (Disconnect forgets them) or were refused by its provider. A side never attached is connected for the first time,
 * not reconnected. A connection revoked with no side on record (one whose reason migration 010 could not attribute
 * to a side) needs both.
 */
export function sidesToReconnect(connection: Connection): Side[] {
  const attached = (['qbo', 'hl'] as const).filter((side) =>
    side === 'qbo' ? connection.qboRealmId : connection.hlLocationId,
  );
  const sides = attached.filter((side) =>
    side === 'qbo'
      ? !connection.qboTokensStored || connection.qboRefusedAt !== null
      : !connection.hlTokensStored || connection.hlRefusedAt !== null,
  );
  return sides.length === 0 && connection.status === 'revoked' ? attached : sides;
}

/** Why a connection waits, naming each side to reconnect and what is wrong with it. */
export function reconnectReason(connection: Connection, sides: readonly Side[]): string {
  const names = sides.map((side) => PROVIDER_NAME[side]).join(' and ');
  const why = sides.map((side) => {
    const stored = side === 'qbo' ? connection.qboTokensStored : connection.hlTokensStored;
    return stored ? `${PROVIDER_NAME[side]} refused the stored tokens` : `no ${PROVIDER_NAME[side]} tokens are stored`;
  });
  return `Needs ${names} reconnect: ${why.join('; ')}. Reconnect ${names} from the connection's card`;
}

export interface NewConnection {
  name: string;
  importOldInvoices?: boolean;
  reviewRequests?: boolean;
  /** On unless said otherwise. */
  paymentsFromQuickBooks?: boolean;
  settings?: Partial<ConnectionSettings>;
}

/** Stored tokens that the key in use cannot open: sealed with another LEDGERLINK_SECRET_KEY (or key file), or damaged. */
export class UnreadableTokensError extends Error {
  constructor(
    readonly connectionId: string,
    readonly side: Side,
    cause?: unknown,
  ) {
    super(
      `The stored ${side === 'qbo' ? 'QuickBooks' : 'HighLevel'} tokens of connection ${connectionId} cannot be opened with the token key in use: ` +
        'LEDGERLINK_SECRET_KEY (or the key file) is not the key they were sealed with. Restart with that key, or reconnect this side',
      { cause },
    );
  }
}

/**
 * A QuickBooks company or a HighLevel location that another live (not disconnected) connection has: one company and
 * one location belong to at most one connection (Intuit ties the app's authorisation to the company, so two
 * connections on one company share it, and revoking one's tokens ends the other's access).
 */
export class AccountInUseError extends Error {
  override readonly name = 'AccountInUseError';
  constructor(
    readonly side: Side,
    readonly account: string,
    readonly holder: { id: string; name: string },
    /** The connection that asked for it (undefined for a new one, made from tokens). */
    readonly askingId?: string | undefined,
  ) {
    super(
      `${side === 'qbo' ? 'This QuickBooks company' : 'This HighLevel location'} (${account}) is already connected to "${holder.name}"`,
    );
  }

  /** What to do about it, in the words of the dashboard. */
  get fix(): string {
    return this.side === 'qbo'
      ? `Choose the company that belongs to this location on Intuit's page. If this company should move here, disconnect "${this.holder.name}" first`
      : `Choose another location. If this location should move here, disconnect "${this.holder.name}" first`;
  }
}

/** A company switch waiting for its confirmation (see holdCompanySwitch). */
export interface HeldCompanySwitch {
  connectionId: string;
  realmId: string;
  company: { name: string | null; country: string; homeCurrency: string };
  choices: Record<string, unknown>;
  tokens: OAuthTokens;
}

/** What switching a connection to another company did. */
export interface CompanySwitchOutcome {
  /** Links to the previous company's records, set aside (kept, not followed). */
  setAside: number;
  /** Links to the new company's records set aside by an earlier switch away from it, followed again. */
  restored: number;
  /** Open errors about the previous company's records, closed. */
  errorsClosed: number;
}

/** The unique indexes of migration 011, by side. */
const LIVE_INDEX: Record<Side, string> = { qbo: 'connections_live_realm', hl: 'connections_live_location' };

/** Token columns are sealed with the row id and side as associated data: a ciphertext moved to another row fails. */
const tokenAad = (connectionId: string, side: Side) => `connection:${connectionId}:${side}`;
/** A held company switch's tokens: bound to its form token and its connection. */
const switchAad = (tokenHash: string, connectionId: string) => `company-switch:${tokenHash}:${connectionId}`;

/**
 * How long a connection row read for a job or a webhook may be reused. Every job and every webhook needs the row
 * (status, settings), and reading it each time would be a large share of a payment's statements. A change made by
 * this process clears the copy at once; a change made by another process (a pause from the dashboard's process) is
 * seen by this one within this time.
 */
const RECENT_MS = 1000;

export class ConnectionRepository {
  private readonly recentRows = new Map<string, { at: number; generation: number; value: Promise<Connection[]> }>();
  private generation = 0;

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {}

  /** The connection as read at most RECENT_MS ago (jobs and webhooks; the dashboard reads `get`). */
  async recent(id: string): Promise<Connection | undefined> {
    return (
      await this.remembered(`id:${id}`, async () => {
        const one = await this.get(id);
        return one ? [one] : [];
      })
    )[0];
  }

  /** The connections of a QuickBooks realm or a HighLevel location, as read at most RECENT_MS ago (webhook intake). */
  recentByAccount(side: Side, account: string): Promise<Connection[]> {
    return this.remembered(`${side}:${account}`, () =>
      side === 'qbo' ? this.findByRealm(account) : this.findByLocation(account),
    );
  }

  private remembered(key: string, read: () => Promise<Connection[]>): Promise<Connection[]> {
    const now = Date.now();
    const held = this.recentRows.get(key);
    if (held && held.generation === this.generation && now - held.at < RECENT_MS) return held.value;
    const value = read();
    this.recentRows.set(key, { at: now, generation: this.generation, value });
    value.catch(() => this.recentRows.delete(key));
    if (this.recentRows.size > 10_000) this.recentRows.clear();
    return value;
  }

  /** Drops the rows read for jobs and webhooks (after a change made outside this repository). */
  forgetRecent(): void {
    this.changed();
  }

  /**
   * Every write below calls this once its statement is done: this process never reuses a row read before its own
   * change (a read that started during the write belongs to the old generation too).
   */
  private changed(): void {
    this.generation += 1;
    this.recentRows.clear();
  }

  async create(input: NewConnection): Promise<Connection> {
    const settings = connectionSettingsSchema.parse(input.settings ?? {});
    const result = await this.db.query<ConnectionRow>(
      `INSERT INTO connections (id, name, import_old_invoices, review_requests, payments_from_quickbooks, settings)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${columns}`,
      [
        randomUUID(),
        input.name,
        input.importOldInvoices ?? false,
        input.reviewRequests ?? false,
        input.paymentsFromQuickBooks ?? true,
        JSON.stringify(settings),
      ],
    );
    this.changed();
    return fromRow(result.rows[0]!);
  }

  async get(id: string, q: Queryable = this.db): Promise<Connection | undefined> {
    const result = await q.query<ConnectionRow>(`SELECT ${columns} FROM connections WHERE id = $1`, [id]);
    return result.rows[0] ? fromRow(result.rows[0]) : undefined;
  }

  async require(id: string, q: Queryable = this.db): Promise<Connection> {
    const connection = await this.get(id, q);
    if (!connection) throw new Error(`connection ${id} does not exist`);
    return connection;
  }

  async list(): Promise<Connection[]> {
    const result = await this.db.query<ConnectionRow>(`SELECT ${columns} FROM connections ORDER BY created_at`);
    return result.rows.map(fromRow);
  }

  async findByLocation(locationId: string, q: Queryable = this.db): Promise<Connection[]> {
    const result = await q.query<ConnectionRow>(
      `SELECT ${columns} FROM connections WHERE hl_location_id = $1 ORDER BY created_at`,
      [locationId],
    );
    return result.rows.map(fromRow);
  }

  async findByRealm(realmId: string): Promise<Connection[]> {
    const result = await this.db.query<ConnectionRow>(`SELECT ${columns} FROM connections WHERE qbo_realm_id = $1`, [
      realmId,
    ]);
    return result.rows.map(fromRow);
  }

  /**
   * The live connection other than `exceptId` that has this company (qbo) or location (hl), if any. A disconnected
   * connection keeps its company and location for the record but has neither.
   */
  async holderOf(
    side: Side,
    account: string,
    exceptId: string | null,
    q: Queryable = this.db,
  ): Promise<{ id: string; name: string } | undefined> {
    const column = side === 'qbo' ? 'qbo_realm_id' : 'hl_location_id';
    const result = await q.query<{ id: string; name: string }>(
      `SELECT id, name FROM connections WHERE ${column} = $1 AND status <> 'disconnected' AND id IS DISTINCT FROM $2 ORDER BY created_at LIMIT 1`,
      [account, exceptId],
    );
    return result.rows[0];
  }

  /**
   * The other connections that hold QuickBooks tokens for this company: Intuit's revocation would end their access
   * too. The unique index on live companies and migration 011 leave none; asking costs one statement and keeps a
   * revocation from ever ending another connection's access unannounced.
   */
  async othersWithQuickBooksTokens(realmId: string, exceptId: string): Promise<Array<{ id: string; name: string }>> {
    const result = await this.db.query<{ id: string; name: string }>(
      `SELECT id, name FROM connections WHERE qbo_realm_id = $1 AND id <> $2 AND qbo_tokens IS NOT NULL ORDER BY created_at`,
      [realmId, exceptId],
    );
    return result.rows;
  }

  /** Throws AccountInUseError when another live connection has the company or the location. */
  async assertAccountsFree(
    connectionId: string | null,
    accounts: { realmId?: string | undefined; locationId?: string | undefined },
  ): Promise<void> {
    for (const [side, account] of [
      ['qbo', accounts.realmId],
      ['hl', accounts.locationId],
    ] as const) {
      if (!account) continue;
      const holder = await this.holderOf(side, account, connectionId);
      if (holder) throw new AccountInUseError(side, account, holder, connectionId ?? undefined);
    }
  }

  /**
   * Runs a write that may give a connection a company or a location another live connection has; the store's
   * unique index refuses it (a check made before can race with another callback) and this names the holder.
   */
  private async guarded<T>(
    id: string,
    write: () => Promise<T>,
    accounts: { realmId?: string; locationId?: string } = {},
  ): Promise<T> {
    try {
      return await write();
    } catch (error) {
      const message = error instanceof Error ? error.message : '';
      const side = (Object.keys(LIVE_INDEX) as Side[]).find((s) => message.includes(LIVE_INDEX[s]));
      if (!side) throw error;
      const row = await this.get(id);
      const account =
        side === 'qbo' ? (accounts.realmId ?? row?.qboRealmId) : (accounts.locationId ?? row?.hlLocationId);
      const holder = account ? await this.holderOf(side, account, id) : undefined;
      if (!account || !holder) throw error;
      throw new AccountInUseError(side, account, holder, id);
    }
  }

  /** Attaches one side after its OAuth round trip (or from existing tokens) and stores its tokens sealed. */
  async attachQuickBooks(
    id: string,
    input: {
      realmId: string;
      country: string;
      homeCurrency: string;
      companyName?: string | null | undefined;
      tokens: OAuthTokens;
    },
  ): Promise<void> {
    await this.guarded(
      id,
      () =>
        this.db.query(
          `UPDATE connections SET qbo_realm_id = $2, qbo_country = $3, qbo_home_currency = $4, qbo_tokens = $5,
         qbo_access_expires_at = $6, qbo_refresh_expires_at = $7, qbo_company_name = COALESCE($8, qbo_company_name), qbo_refused_at = NULL, updated_at = now() WHERE id = $1`,
          [
            id,
            input.realmId,
            input.country,
            input.homeCurrency,
            this.seal(id, 'qbo', input.tokens),
            input.tokens.accessExpiresAt,
            input.tokens.refreshExpiresAt ?? null,
            input.companyName ?? null,
          ],
        ),
      { realmId: input.realmId },
    );
    this.changed();
  }

  async attachHighLevel(
    id: string,
    input: {
      locationId: string;
      locationName?: string | undefined;
      companyId?: string | undefined;
      country: string;
      tokens: OAuthTokens;
    },
  ): Promise<void> {
    await this.guarded(
      id,
      () =>
        this.db.query(
          `UPDATE connections SET hl_location_id = $2, hl_company_id = $3, hl_country = $4, hl_tokens = $5,
         hl_access_expires_at = $6, hl_location_name = COALESCE($7, hl_location_name), hl_installed_at = now(), hl_refused_at = NULL, updated_at = now() WHERE id = $1`,
          [
            id,
            input.locationId,
            input.companyId ?? null,
            input.country,
            this.seal(id, 'hl', input.tokens),
            input.tokens.accessExpiresAt,
            input.locationName ?? null,
          ],
        ),
      { locationId: input.locationId },
    );
    this.changed();
  }

  /**
   * Marks the connection live from now (records created before this moment are never synced outward) when both sides
   * hold tokens no provider refused. Otherwise it waits, revoked, for the sides that need a reconnect, with a reason
   * that names them: a connection is never shown live while one of its sides cannot be called.
   */
  async activate(id: string, connectedAt: Date = new Date()): Promise<Connection> {
    const row = await this.guarded(id, () =>
      this.db.transaction(async (tx) => {
        const current = await tx.query<ConnectionRow>(`SELECT ${columns} FROM connections WHERE id = $1 FOR UPDATE`, [
          id,
        ]);
        if (!current.rows[0]) throw new Error(`connection ${id} does not exist`);
        const connection = fromRow(current.rows[0]);
        const missing = sidesToReconnect({ ...connection, status: 'connected' });
        const result =
          missing.length === 0
            ? await tx.query<ConnectionRow>(
                `UPDATE connections SET status = 'connected', status_reason = NULL, connected_at = COALESCE(connected_at, $2), updated_at = now()
           WHERE id = $1 RETURNING ${columns}`,
                [id, connectedAt.toISOString()],
              )
            : await tx.query<ConnectionRow>(
                `UPDATE connections SET status = 'revoked', status_reason = $2, updated_at = now() WHERE id = $1 RETURNING ${columns}`,
                [id, reconnectReason(connection, missing)],
              );
        return result.rows[0]!;
      }),
    );
    this.changed();
    return fromRow(row);
  }

  /**
   * Keeps a company switch until the person confirms it on the page (15 minutes, once, only from the browser
   * session that asked): the new company's tokens sealed, the token for the page's form stored hashed.
   */
  async holdCompanySwitch(sessionHash: string, held: HeldCompanySwitch, lifetimeMs = 15 * 60_000): Promise<string> {
    const token = newSecret();
    const tokenHash = hashSecret(token);
    await this.db.query(`DELETE FROM company_switches WHERE expires_at < now()`);
    await this.db.query(
      `INSERT INTO company_switches (token_hash, session_hash, connection_id, realm_id, company, choices, tokens, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        tokenHash,
        sessionHash,
        held.connectionId,
        held.realmId,
        JSON.stringify(held.company),
        JSON.stringify(held.choices),
        this.secrets.seal(
          JSON.stringify(oauthTokensSchema.parse(held.tokens)),
          switchAad(tokenHash, held.connectionId),
        ),
        new Date(Date.now() + lifetimeMs).toISOString(),
      ],
    );
    return token;
  }

  /** Takes (single use) the switch this session was shown for this connection; undefined when forged, used, expired or foreign. */
  async takeCompanySwitch(
    sessionHash: string,
    connectionId: string,
    token: string,
  ): Promise<HeldCompanySwitch | undefined> {
    const tokenHash = hashSecret(token);
    const result = await this.db.query<{ realm_id: string; company: unknown; choices: unknown; tokens: Uint8Array }>(
      `DELETE FROM company_switches WHERE token_hash = $1 AND session_hash = $2 AND connection_id = $3 AND expires_at > now()
       RETURNING realm_id, company, choices, tokens`,
      [tokenHash, sessionHash, connectionId],
    );
    const row = result.rows[0];
    if (!row) return undefined;
    const json = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);
    return {
      connectionId,
      realmId: row.realm_id,
      company: json(row.company) as HeldCompanySwitch['company'],
      choices: json(row.choices) as Record<string, unknown>,
      tokens: oauthTokensSchema.parse(JSON.parse(this.secrets.open(row.tokens, switchAad(tokenHash, connectionId)))),
    };
  }

  /**
   * Moves the connection to another QuickBooks company, in one transaction: the links to the previous company's
   * records, its tax code mapping and its bookkeeping mappings are set aside (kept, not followed: their ids mean other records, or nothing,
   * in the new company) and the ones set aside earlier for the new company come back; the index of the previous
   * company's customers and the named cursors (its imports and change capture) are dropped, so the new company is
   * read from the start; the open errors about the previous company are closed; the connection is live from now
   * (records created before the switch went, or were meant to go, to the previous company).
   */
  async switchQuickBooksCompany(
    id: string,
    input: { realmId: string; country: string; homeCurrency: string; companyName: string | null; tokens: OAuthTokens },
    companyCursors: readonly string[],
  ): Promise<CompanySwitchOutcome> {
    const outcome = await this.guarded(
      id,
      () =>
        this.db.transaction(async (tx) => {
          const current = await tx.query<{
            qbo_realm_id: string | null;
            qbo_company_name: string | null;
            settings: unknown;
          }>(`SELECT qbo_realm_id, qbo_company_name, settings FROM connections WHERE id = $1 FOR UPDATE`, [id]);
          const row = current.rows[0];
          if (!row) throw new Error(`connection ${id} does not exist`);
          const settings = connectionSettingsSchema.parse(
            typeof row.settings === 'string' ? JSON.parse(row.settings) : row.settings,
          );
          let setAside = 0;
          if (row.qbo_realm_id) {
            const moved = await tx.query(
              `INSERT INTO set_aside_links (connection_id, realm_id, kind, crm_id, qbo_id, origin, state, snapshot_hash, qbo_sync_token, qbo_updated_at, crm_updated_at, data, created_at, updated_at)
           SELECT connection_id, $2, kind, crm_id, qbo_id, origin, state, snapshot_hash, qbo_sync_token, qbo_updated_at, crm_updated_at, data, created_at, updated_at
           FROM links WHERE connection_id = $1
           ON CONFLICT (connection_id, realm_id, kind, crm_id) DO UPDATE SET qbo_id = EXCLUDED.qbo_id, origin = EXCLUDED.origin, state = EXCLUDED.state,
             snapshot_hash = EXCLUDED.snapshot_hash, qbo_sync_token = EXCLUDED.qbo_sync_token, qbo_updated_at = EXCLUDED.qbo_updated_at,
             crm_updated_at = EXCLUDED.crm_updated_at, data = EXCLUDED.data, updated_at = EXCLUDED.updated_at, set_aside_at = now()`,
              [id, row.qbo_realm_id],
            );
            setAside = moved.rowCount;
            await tx.query(
              `INSERT INTO set_aside_company_settings (connection_id, realm_id, company_name, tax_code_mapping, mappings) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (connection_id, realm_id) DO UPDATE SET company_name = EXCLUDED.company_name, tax_code_mapping = EXCLUDED.tax_code_mapping,
             mappings = EXCLUDED.mappings, set_aside_at = now()`,
              [
                id,
                row.qbo_realm_id,
                row.qbo_company_name,
                JSON.stringify(settings.taxCodeMapping),
                JSON.stringify(settings.mappings),
              ],
            );
          }
          await tx.query(`DELETE FROM links WHERE connection_id = $1`, [id]);
          const restored = await tx.query(
            `INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin, state, snapshot_hash, qbo_sync_token, qbo_updated_at, crm_updated_at, data, created_at, updated_at)
         SELECT connection_id, kind, crm_id, qbo_id, origin, state, snapshot_hash, qbo_sync_token, qbo_updated_at, crm_updated_at, data, created_at, updated_at
         FROM set_aside_links WHERE connection_id = $1 AND realm_id = $2`,
            [id, input.realmId],
          );
          await tx.query(`DELETE FROM set_aside_links WHERE connection_id = $1 AND realm_id = $2`, [id, input.realmId]);
          const kept = await tx.query<{ tax_code_mapping: unknown; mappings: unknown }>(
            `DELETE FROM set_aside_company_settings WHERE connection_id = $1 AND realm_id = $2 RETURNING tax_code_mapping, mappings`,
            [id, input.realmId],
          );
          const json = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);
          const mapping = kept.rows[0] ? json(kept.rows[0].tax_code_mapping) : {};
          const mappings = bookkeepingMappingsSchema.parse(kept.rows[0] ? json(kept.rows[0].mappings) : {});
          await tx.query(`DELETE FROM qbo_customers WHERE connection_id = $1`, [id]);
          await tx.query(`DELETE FROM cursors WHERE connection_id = $1 AND name = ANY($2::text[])`, [
            id,
            [...companyCursors],
          ]);
          const closed = await tx.query(
            `UPDATE activity SET resolved_at = now() WHERE connection_id = $1 AND status = 'error' AND resolved_at IS NULL`,
            [id],
          );
          await tx.query(
            `UPDATE connections SET qbo_realm_id = $2, qbo_country = $3, qbo_home_currency = $4, qbo_company_name = $5, qbo_tokens = $6,
           qbo_access_expires_at = $7, qbo_refresh_expires_at = $8, settings = $9, status = 'connected', status_reason = NULL, connected_at = now(),
           updated_at = now() WHERE id = $1`,
            [
              id,
              input.realmId,
              input.country,
              input.homeCurrency,
              input.companyName,
              this.seal(id, 'qbo', input.tokens),
              input.tokens.accessExpiresAt,
              input.tokens.refreshExpiresAt ?? null,
              JSON.stringify({ ...settings, taxCodeMapping: mapping, mappings }),
            ],
          );
          return { setAside, restored: restored.rowCount, errorsClosed: closed.rowCount };
        }),
      { realmId: input.realmId },
    );
    this.changed();
    return outcome;
  }

  async setStatus(id: string, status: ConnectionStatus, reason: string | null, q: Queryable = this.db): Promise<void> {
    await q.query(`UPDATE connections SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1`, [
      id,
      status,
      reason,
    ]);
    this.changed();
  }

  /**
   * Marks the side refused and the connection revoked because the provider refused `refused` (the tokens a refresh
   * tried), or, with `refused` undefined, because the side has no tokens at all; unless the stored tokens are no
   * longer those: a reconnect that saved new tokens meanwhile wins over the refusal of the old ones (otherwise a job
   * that started before the reconnect would mark the freshly reconnected connection revoked again). The row is locked
   * while the tokens are compared, so a reconnect's write lands before or after, not between. A disconnected
   * connection stays disconnected.
   */
  async markRevoked(id: string, side: Side, refused: OAuthTokens | undefined, reason: string): Promise<boolean> {
    const marked = await this.db.transaction(async (tx) => {
      await tx.query(`SELECT 1 FROM connections WHERE id = $1 FOR UPDATE`, [id]);
      const current = await this.readTokens(id, side, tx);
      const replaced = refused
        ? current !== undefined &&
          (current.accessToken !== refused.accessToken || current.refreshToken !== refused.refreshToken)
        : current !== undefined;
      if (replaced) return false;
      await tx.query(
        `UPDATE connections SET ${side}_refused_at = CASE WHEN ${side}_tokens IS NULL THEN ${side}_refused_at ELSE now() END,
           status = CASE WHEN status = 'disconnected' THEN status ELSE 'revoked' END,
           status_reason = CASE WHEN status = 'disconnected' THEN status_reason ELSE $2 END, updated_at = now()
         WHERE id = $1`,
        [id, reason],
      );
      return true;
    });
    this.changed();
    return marked;
  }

  /** Records an INSTALL of the app on a location: later than any uninstall dated before `at`. */
  async recordHighLevelInstall(locationId: string, at: Date, q: Queryable = this.db): Promise<void> {
    await q.query(
      `UPDATE connections SET hl_installed_at = GREATEST(COALESCE(hl_installed_at, $2), $2), updated_at = now() WHERE hl_location_id = $1`,
      [locationId, at.toISOString()],
    );
    this.changed();
  }

  /**
   * Revokes the location's connections for an UNINSTALL dated `at`, except those installed again since (a late
   * or replayed uninstall must not stop a reinstalled connection). Returns the ids it revoked.
   */
  async revokeUninstalled(locationId: string, at: Date, reason: string, q: Queryable = this.db): Promise<string[]> {
    const result = await q.query<{ id: string }>(
      `UPDATE connections SET hl_refused_at = $2, status = CASE WHEN status = 'disconnected' THEN status ELSE 'revoked' END,
         status_reason = CASE WHEN status = 'disconnected' THEN status_reason ELSE $3 END, updated_at = now()
       WHERE hl_location_id = $1 AND hl_refused_at IS NULL AND (hl_installed_at IS NULL OR hl_installed_at < $2) RETURNING id`,
      [locationId, at.toISOString(), reason],
    );
    this.changed();
    return result.rows.map((r) => r.id);
  }

  async updateToggles(
    id: string,
    toggles: { importOldInvoices?: boolean; reviewRequests?: boolean; paymentsFromQuickBooks?: boolean },
  ): Promise<void> {
    await this.db.query(
      `UPDATE connections SET import_old_invoices = COALESCE($2, import_old_invoices), review_requests = COALESCE($3, review_requests),
         payments_from_quickbooks = COALESCE($4, payments_from_quickbooks), updated_at = now() WHERE id = $1`,
      [id, toggles.importOldInvoices ?? null, toggles.reviewRequests ?? null, toggles.paymentsFromQuickBooks ?? null],
    );
    this.changed();
  }

  async updateSettings(id: string, patch: Partial<ConnectionSettings>): Promise<Connection> {
    const current = await this.require(id);
    const settings = connectionSettingsSchema.parse({ ...current.settings, ...patch });
    await this.db.query(`UPDATE connections SET settings = $2, updated_at = now() WHERE id = $1`, [
      id,
      JSON.stringify(settings),
    ]);
    this.changed();
    return { ...current, settings };
  }

  async readTokens(id: string, side: Side, q: Queryable = this.db): Promise<OAuthTokens | undefined> {
    const result = await q.query<{ tokens: Uint8Array | null }>(
      `SELECT ${side}_tokens AS tokens FROM connections WHERE id = $1`,
      [id],
    );
    const sealed = result.rows[0]?.tokens;
    if (!sealed) return undefined;
    let opened: string;
    try {
      opened = this.secrets.open(sealed, tokenAad(id, side));
    } catch (cause) {
      throw new UnreadableTokensError(id, side, cause);
    }
    return oauthTokensSchema.parse(JSON.parse(opened));
  }

  /**
   * The connections whose stored tokens this process's key cannot open (checked at start: a wrong
   * LEDGERLINK_SECRET_KEY otherwise shows every connection as connected while nothing can sync). Reads only.
   */
  async unreadableTokens(): Promise<Array<{ id: string; name: string; status: ConnectionStatus; sides: Side[] }>> {
    const result = await this.db.query<{
      id: string;
      name: string;
      status: ConnectionStatus;
      qbo_tokens: Uint8Array | null;
      hl_tokens: Uint8Array | null;
    }>(
      `SELECT id, name, status, qbo_tokens, hl_tokens FROM connections WHERE qbo_tokens IS NOT NULL OR hl_tokens IS NOT NULL ORDER BY created_at`,
    );
    const unreadable: Array<{ id: string; name: string; status: ConnectionStatus; sides: Side[] }> = [];
    for (const row of result.rows) {
      const sides = (['qbo', 'hl'] as const).filter((side) => {
        const sealed = side === 'qbo' ? row.qbo_tokens : row.hl_tokens;
        if (!sealed) return false;
        try {
          this.secrets.open(sealed, tokenAad(row.id, side));
          return false;
        } catch {
          return true;
        }
      });
      if (sides.length > 0) unreadable.push({ id: row.id, name: row.name, status: row.status, sides });
    }
    return unreadable;
  }

  /** Forgets both sides' tokens (after they were revoked); history stays. */
  async clearTokens(id: string): Promise<void> {
    await this.db.query(
      `UPDATE connections SET qbo_tokens = NULL, hl_tokens = NULL, updated_at = now() WHERE id = $1`,
      [id],
    );
    this.changed();
  }

  /**
   * Runs a token refresh under a per-connection, per-side lock held by the database, so that two processes never
   * spend the same rotating refresh token. `refresh` receives the tokens as currently stored (another process may
   * have refreshed them meanwhile) and returns the new ones, or undefined to keep them. The new tokens are saved in
   * the same transaction.
   */
  async refreshUnderLock(
    id: string,
    side: Side,
    refresh: (current: OAuthTokens) => Promise<OAuthTokens | undefined>,
  ): Promise<OAuthTokens> {
    const tokens = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`token:${id}:${side}`]);
      const current = await this.readTokens(id, side, tx);
      if (!current) throw new Error(`connection ${id} has no ${side === 'qbo' ? 'QuickBooks' : 'HighLevel'} tokens`);
      const next = await refresh(current);
      if (!next) return current;
      const sealed = this.seal(id, side, next);
      if (side === 'qbo') {
        await tx.query(
          `UPDATE connections SET qbo_tokens = $2, qbo_access_expires_at = $3, qbo_refresh_expires_at = $4, updated_at = now() WHERE id = $1`,
          [id, sealed, next.accessExpiresAt, next.refreshExpiresAt ?? null],
        );
      } else {
        await tx.query(
          `UPDATE connections SET hl_tokens = $2, hl_access_expires_at = $3, updated_at = now() WHERE id = $1`,
          [id, sealed, next.accessExpiresAt],
        );
      }
      return next;
    });
    this.changed();
    return tokens;
  }

  private seal(id: string, side: Side, tokens: OAuthTokens): Buffer {
    return this.secrets.seal(JSON.stringify(oauthTokensSchema.parse(tokens)), tokenAad(id, side));
  }
}
