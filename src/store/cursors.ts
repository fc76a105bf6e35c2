// Saved positions of pollers and imports (CDC changedSince, transaction windows, import pages), per connection.
import type { Queryable } from './db.ts';

export async function readCursor<T>(q: Queryable, connectionId: string, name: string): Promise<T | undefined> {
  const result = await q.query<{ value: T | string }>(
    'SELECT value FROM cursors WHERE connection_id = $1 AND name = $2',
    [connectionId, name],
  );
  const value = result.rows[0]?.value;
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

export async function writeCursor(q: Queryable, connectionId: string, name: string, value: unknown): Promise<void> {
  await q.query(
    `INSERT INTO cursors (connection_id, name, value) VALUES ($1, $2, $3)
     ON CONFLICT (connection_id, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [connectionId, name, JSON.stringify(value)],
  );
}
