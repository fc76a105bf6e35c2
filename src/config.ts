// Configuration from the environment, parsed once at the edge.
import { z } from 'zod';

const envSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  LEDGERLINK_DATA_DIR: z.string().min(1).default('.data'),
});

export interface Config {
  /** PostgreSQL server; absent means the embedded PGlite store in dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return { databaseUrl: parsed.data.DATABASE_URL, dataDir: `${parsed.data.LEDGERLINK_DATA_DIR}/pglite` };
}
