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

/**
 * Writes a cursor only while its stored value's `field` still equals `expected` (a run that wrote it first): a job
 * of an earlier run, still finishing its step, cannot write over the cursor of the run that replaced it. Returns
 * whether it wrote.
 */
export async function writeCursorIf(
  q: Queryable,
  connectionId: string,
  name: string,
  value: unknown,
  match: { field: string; expected: string },
): Promise<boolean> {
  const result = await q.query(
    `UPDATE cursors SET value = $3, updated_at = now() WHERE connection_id = $1 AND name = $2 AND value->>$4 = $5 RETURNING 1`,
    [connectionId, name, JSON.stringify(value), match.field, match.expected],
  );
  return result.rows.length === 1;
}
