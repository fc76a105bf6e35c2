// Whether the store can serve this process: it answers, and every migration this version has is applied.
import type { Db } from './db.ts';
import { pendingMigrations } from './migrate.ts';

/** Why this process cannot serve now (empty when it can): the store does not answer, or is not migrated. */
export async function readinessProblems(db: Db, timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const pending = await Promise.race([pendingMigrations(db), timeout]);
    return pending.length > 0 ? [`store migrations not applied: ${pending.join(', ')}`] : [];
  } catch {
    return ['store unreachable'];
  } finally {
    clearTimeout(timer);
  }
}
