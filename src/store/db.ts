// One database handle over either PGlite (embedded, the default) or a pg pool (when DATABASE_URL is set).
// Everything above this module speaks PostgreSQL and sees the same small interface.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import pg from 'pg';
import type { PGlite as PGliteType, Transaction as PGliteTransaction } from '@electric-sql/pglite';

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs several statements at once (migrations); no parameters. */
  exec(sql: string): Promise<void>;
  /** Runs fn inside one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** The PGlite instance, for libraries that need it (pg-boss through its db option). */
  readonly pglite?: PGliteType;
  /** The pg pool, when running on a PostgreSQL server. */
  readonly pool?: pg.Pool;
}

export interface OpenDbOptions {
  /** PostgreSQL connection string; when absent the embedded PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data folder; absent means in memory. */
  dataDir?: string | undefined;
  /** Pool size for PostgreSQL. */
  maxConnections?: number;
  /** Statements with values run prepared on PostgreSQL (default true; see openPostgres). */
  preparedStatements?: boolean;
}

// PostgreSQL's int8 and numeric come back as strings by default; we keep them as strings (exact) except int8
// counts, which callers convert explicitly. Nothing here turns money into floats.

export async function openDb(options: OpenDbOptions = {}): Promise<Db> {
  if (options.databaseUrl)
    return openPostgres(options.databaseUrl, options.maxConnections ?? 10, options.preparedStatements ?? true);
  return openPGlite(options.dataDir);
}

/**
 * Statements with values run as named prepared statements: PostgreSQL parses and plans each text once per
 * connection instead of on every run (the engine sends the same few dozen texts thousands of times, so planning
 * each run would be most of the server's work). Texts without values may hold several statements (migrations, some
 * of pg-boss's), which cannot be prepared, so they run unprepared; so does any text past the first
 * PREPARED_TEXTS_MAX, so that SQL built with a varying shape cannot grow the server's memory without bound.
 */
const PREPARED_TEXTS_MAX = 1000;
/** A prepared statement the server no longer accepts (a migration changed a table it reads; or it was discarded). */
const STALE_PREPARED = new Set(['0A000', '26000']);

async function openPostgres(databaseUrl: string, max: number, prepared: boolean): Promise<Db> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  // An idle client that loses its server must not crash the process; the next query reports the problem.
  pool.on('error', () => {});
  /** Text -> statement name; '' for a text that is no longer prepared (see run). */
  const names = new Map<string, string>();
  const nameOf = (sql: string, params?: readonly unknown[]): string | undefined => {
    if (!prepared || !params || params.length === 0) return undefined;
    let name = names.get(sql);
    if (name === undefined && names.size < PREPARED_TEXTS_MAX) {
      name = `ll_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
      names.set(sql, name);
    }
    return name || undefined;
  };
  const run = async <Row>(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params: readonly unknown[] | undefined,
    inTransaction: boolean,
  ): Promise<QueryResult<Row>> => {
    const name = nameOf(sql, params);
    let result: pg.QueryResult;
    try {
      result = await client.query(
        name
          ? { name, text: sql, values: params as unknown[] }
          : { text: sql, values: params as unknown[] | undefined },
      );
    } catch (error) {
      if (!name || !STALE_PREPARED.has(String((error as { code?: unknown }).code))) throw error;
      // Prepared before a migration changed what it returns: from here on this text runs unprepared, like a text
      // without values. Outside a transaction it runs again at once; inside one, the transaction has failed and the
      // caller's retry runs it unprepared.
      names.set(sql, '');
      if (inTransaction) throw error;
      result = await client.query(sql, params as unknown[]);
    }
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  };
  return {
    kind: 'postgres',
    pool,
    query: (sql, params) => run(pool, sql, params, false),
    exec: async (sql) => {
      await pool.query(sql);
    },
    transaction: async (fn) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({ query: (sql, params) => run(client, sql, params, true) });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function openPGlite(dataDir: string | undefined): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pglite = dataDir ? new PGlite({ fs: await privateNodeFs(dataDir) }) : new PGlite();
  await pglite.waitReady;
  const wrap = (target: PGliteType | PGliteTransaction): Queryable => ({
    query: async <Row>(sql: string, params?: readonly unknown[]) => {
      const result = await target.query<Row>(sql, params as unknown[] | undefined);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
  });
  const base = wrap(pglite);
  return {
    kind: 'pglite',
    pglite,
    query: base.query,
    exec: async (sql) => {
      await pglite.exec(sql);
    },
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
    close: () => pglite.close(),
  };
}

interface EmscriptenNodeOps {
  setattr(node: unknown, attr: { mode?: number }): void;
  mknod?(parent: unknown, name: string, mode: number, dev: number): unknown;
}

/**
 * PGlite's Node file system with every file and folder it creates or chmods kept owner-only. Postgres inside
 * PGlite sets its files' modes itself through Emscripten's own chmod (0666 for most), which the process's umask
 * does not reach; the store holds every synced record and the sealed tokens.
 */
async function privateNodeFs(dataDir: string) {
  const { NodeFS } = await import('@electric-sql/pglite/nodefs');
  return new (class PrivateNodeFS extends NodeFS {
    override async init(...args: Parameters<InstanceType<typeof NodeFS>['init']>) {
      const result = await super.init(...args);
      const preRun = result.emscriptenOpts.preRun ?? [];
      const ownerOnly = (mod: { NODEFS: { node_ops: EmscriptenNodeOps; stream_ops: EmscriptenNodeOps } }) => {
        for (const ops of [mod.NODEFS.node_ops, mod.NODEFS.stream_ops]) {
          const setattr = ops.setattr.bind(ops);
          ops.setattr = (node, attr) =>
            setattr(node, attr.mode === undefined ? attr : { ...attr, mode: attr.mode & ~0o077 });
          const mknod = ops.mknod?.bind(ops);
          if (mknod) ops.mknod = (parent, name, mode, dev) => mknod(parent, name, mode & ~0o077, dev);
        }
      };
      return { ...result, emscriptenOpts: { ...result.emscriptenOpts, preRun: [ownerOnly, ...preRun] } };
    }
  })(dataDir);
}
