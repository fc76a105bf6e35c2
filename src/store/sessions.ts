// The dashboard's admin accounts, browser sessions and the OAuth round trips a session started. Secrets that
// reach the browser (session id, OAuth state) are random 32-byte values; only their SHA-256 is stored.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db, Queryable } from './db.ts';

export interface AdminUser {
  id: string;
  username: string;
  passwordHash: string;
}

export interface Session {
  idHash: string;
  user: { id: string; username: string };
  expiresAt: Date;
}

export interface OAuthState {
  provider: 'quickbooks' | 'highlevel';
  connectionId: string | null;
  data: Record<string, unknown>;
}

export const hashSecret = (value: string): string => createHash('sha256').update(value).digest('hex');
export const newSecret = (): string => randomBytes(32).toString('base64url');

export async function countAdmins(q: Queryable): Promise<number> {
  const result = await q.query<{ n: string | number }>('SELECT count(*) AS n FROM admin_users');
  return Number(result.rows[0]?.n ?? 0);
}

/** Creates an admin; with `onlyIfNone`, only when no admin exists yet (first-start setup), atomically. */
export async function createAdmin(
  q: Queryable,
  input: { username: string; passwordHash: string; onlyIfNone?: boolean },
): Promise<AdminUser | undefined> {
  const id = randomUUID();
  const result = input.onlyIfNone
    ? await q.query(
        `INSERT INTO admin_users (id, username, password_hash) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM admin_users)`,
        [id, input.username, input.passwordHash],
      )
    : await q.query(
        `INSERT INTO admin_users (id, username, password_hash) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING`,
        [id, input.username, input.passwordHash],
      );
  return result.rowCount === 1 ? { id, username: input.username, passwordHash: input.passwordHash } : undefined;
}

export async function findAdmin(q: Queryable, username: string): Promise<AdminUser | undefined> {
  const result = await q.query<{ id: string; username: string; password_hash: string }>(
    'SELECT id, username, password_hash FROM admin_users WHERE username = $1',
    [username],
  );
  const row = result.rows[0];
  return row ? { id: row.id, username: row.username, passwordHash: row.password_hash } : undefined;
}

/**
 * Sets an admin's password and ends every session of that admin but `keepSessionHash` (the one that changed it):
 * whoever held a session with the old password (a stolen cookie, a shared laptop) is out.
 */
export async function changeAdminPassword(
  db: Db,
  userId: string,
  passwordHash: string,
  keepSessionHash?: string,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('UPDATE admin_users SET password_hash = $2 WHERE id = $1', [userId, passwordHash]);
    await tx.query('DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2', [userId, keepSessionHash ?? '']);
  });
}

/** Opens a session; returns the id for the cookie (never stored as such). */
export async function openSession(q: Queryable, userId: string, lifetimeMs: number): Promise<string> {
  const id = newSecret();
  await q.query(`INSERT INTO sessions (id_hash, user_id, expires_at) VALUES ($1, $2, $3)`, [
    hashSecret(id),
    userId,
    new Date(Date.now() + lifetimeMs).toISOString(),
  ]);
  await q.query('UPDATE admin_users SET last_login_at = now() WHERE id = $1', [userId]);
  // Expired sessions are swept here rather than by a timer: logins are rare and this keeps the table small.
  await q.query('DELETE FROM sessions WHERE expires_at < now()');
  return id;
}

export async function findSession(q: Queryable, id: string): Promise<Session | undefined> {
  const result = await q.query<{ id_hash: string; user_id: string; username: string; expires_at: Date | string }>(
    `SELECT s.id_hash, s.user_id, u.username, s.expires_at FROM sessions s JOIN admin_users u ON u.id = s.user_id
     WHERE s.id_hash = $1 AND s.expires_at > now()`,
    [hashSecret(id)],
  );
  const row = result.rows[0];
  return row
    ? { idHash: row.id_hash, user: { id: row.user_id, username: row.username }, expiresAt: new Date(row.expires_at) }
    : undefined;
}

export async function closeSession(q: Queryable, idHash: string): Promise<void> {
  await q.query('DELETE FROM sessions WHERE id_hash = $1', [idHash]);
}

/** Remembers an OAuth round trip started by this session; returns the state to send to the provider. */
export async function beginOAuth(
  q: Queryable,
  sessionHash: string,
  state: OAuthState,
  lifetimeMs = 15 * 60_000,
): Promise<string> {
  const value = newSecret();
  await q.query(
    `INSERT INTO oauth_states (state_hash, session_hash, provider, connection_id, data, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      hashSecret(value),
      sessionHash,
      state.provider,
      state.connectionId,
      JSON.stringify(state.data),
      new Date(Date.now() + lifetimeMs).toISOString(),
    ],
  );
  return value;
}

/**
 * Takes (and deletes: single use) the round trip that `state` names, only for the session that started it and
 * the provider it was sent to. Undefined means a forged, replayed, expired or foreign callback.
 */
export async function takeOAuth(
  q: Queryable,
  sessionHash: string,
  provider: OAuthState['provider'],
  state: string,
): Promise<OAuthState | undefined> {
  const result = await q.query<{
    provider: OAuthState['provider'];
    connection_id: string | null;
    data: Record<string, unknown> | string;
  }>(
    `DELETE FROM oauth_states WHERE state_hash = $1 AND session_hash = $2 AND provider = $3 AND expires_at > now()
     RETURNING provider, connection_id, data`,
    [hashSecret(state), sessionHash, provider],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    provider: row.provider,
    connectionId: row.connection_id,
    data: typeof row.data === 'string' ? (JSON.parse(row.data) as Record<string, unknown>) : row.data,
  };
}
