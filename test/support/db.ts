// A fresh, migrated database for one test file: in-memory PGlite by default, or a new database on the
// PostgreSQL server named by DATABASE_URL (dropped again by close()).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, type Db } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';

export interface TestDb {
  db: Db;
  /** The connection string of the test database, when on PostgreSQL (for child processes). */
  databaseUrl?: string;
  close(): Promise<void>;
}

export const onPostgres = Boolean(process.env.DATABASE_URL);

/** A throwaway database on the PostgreSQL server at serverUrl (DATABASE_URL by default); undefined without a server. */
export async function createTestDatabase(
  serverUrl = process.env.DATABASE_URL,
  prefix = 'll_test',
): Promise<{ databaseUrl: string; drop(): Promise<void> } | undefined> {
  if (!serverUrl) return undefined;
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export async function openTestDb(options: { migrate?: boolean } = {}): Promise<TestDb> {
  const created = await createTestDatabase();
  const db = await openDb({ databaseUrl: created?.databaseUrl });
  if (options.migrate !== false) await migrate(db);
  return {
    db,
    ...(created ? { databaseUrl: created.databaseUrl } : {}),
    close: async () => {
      await db.close();
      await created?.drop();
    },
  };
}
