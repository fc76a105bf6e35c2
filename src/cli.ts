// The `ledgerlink` command. Each sub-command is a small function; `main` returns the exit code.
import { openDb } from './store/db.ts';
import { AccountInUseError } from './store/connections.ts';
import { migrate } from './store/migrate.ts';
import { ConfigError, loadConfig } from './config.ts';
import { keepDataPrivate } from './store/privateFiles.ts';
import { openRuntime, StartRefused, untilSignal } from './runtime.ts';
import { connectWithTokens, connectWithTokensSchema } from './sync/connections/connect.ts';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

type Command = (args: string[]) => Promise<number>;

/** A command line this CLI does not take: its message, then the usage, exit 2. */
class UsageError extends Error {}

type Flags = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** The command's flags (strings unless declared otherwise); an unknown flag or a stray argument is a UsageError. */
function flagsOf<T extends Flags>(args: string[], options: T) {
  try {
    return parseArgs({ args, options }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const usage = `usage: ledgerlink <command>

commands:
  start                          run ledgerlink (server and workers); without provider credentials, the demo
                                 against the local emulators
  worker                         run workers only (extra processes sharing a PostgreSQL store)
  connect --tokens FILE          create a connection from existing OAuth tokens (JSON; see docs/configuration.md)
  migrate                        apply the store's migrations and exit
  emulator quickbooks [--port N] run the local QuickBooks Online emulator (default port 4010)
  emulator highlevel [--port N]  run the local HighLevel emulator (default port 4020)
`;

const commands: Record<string, Command> = {
  start: async (args) => {
    // The demo's own ports for its emulators; ignored when ledgerlink runs against the real providers.
    flagsOf(args, { 'qbo-port': { type: 'string' }, 'hl-port': { type: 'string' } });
    const config = loadConfig(process.env);
    keepDataPrivate(config.dataDir, { create: !config.databaseUrl || !config.secretKey || !config.providers });
    if (!config.providers) {
      // No provider credentials: the demo, which wires the emulators to ledgerlink (outside src/ by design).
      const { runDemo } = await import('../demo/start.ts');
      return runDemo(config, args);
    }
    const runtime = await openRuntime(config, config.providers, {
      server: true,
      workers: true,
      // Without LEDGERLINK_ADMIN_PASSWORD the first visit creates the admin, with the setup code printed here.
      dashboard: { initialAdmin: config.admin, announce: (line) => console.log(line) },
    });
    console.log(
      `ledgerlink is running at ${runtime.url} (store: ${config.databaseUrl ? 'PostgreSQL' : config.pgliteDir})`,
    );
    console.log(
      `  dashboard: ${config.publicUrl ?? runtime.url}/${config.admin ? ` (log in as "${config.admin.username}")` : ''}`,
    );
    if (runtime.metricsUrl) console.log(`  metrics: ${runtime.metricsUrl}/metrics`);
    await untilSignal(runtime.stop);
    return 0;
  },
  worker: async (args) => {
    flagsOf(args, {});
    const config = loadConfig(process.env);
    keepDataPrivate(config.dataDir, { create: !config.databaseUrl || !config.secretKey || !config.providers });
    if (!config.providers) {
      process.stderr.write(
        'ledgerlink worker needs provider credentials (QBO_* and HL_*); see docs/configuration.md\n',
      );
      return 2;
    }
    if (!config.databaseUrl)
      process.stderr.write(
        'note: without DATABASE_URL this worker uses the embedded store, which no other process can share\n',
      );
    const runtime = await openRuntime(config, config.providers, { server: false, workers: true });
    console.log(`ledgerlink worker is running${runtime.metricsUrl ? ` (metrics: ${runtime.metricsUrl}/metrics)` : ''}`);
    await untilSignal(runtime.stop);
    return 0;
  },
  connect: async (args) => {
    const file = flagsOf(args, { tokens: { type: 'string' } }).tokens;
    const config = loadConfig(process.env);
    keepDataPrivate(config.dataDir, { create: !config.databaseUrl || !config.secretKey || !config.providers });
    if (!config.providers || !file) {
      process.stderr.write('usage: ledgerlink connect --tokens FILE (needs provider credentials in the environment)\n');
      return 2;
    }
    const input = connectWithTokensSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    const runtime = await openRuntime(config, config.providers, { server: false, workers: false });
    try {
      const connection = await connectWithTokens(runtime.engine, input);
      console.log(`connected: ${connection.id} (${connection.name})`);
      return 0;
    } catch (error) {
      if (!(error instanceof AccountInUseError)) throw error;
      process.stderr.write(`${error.message}: nothing was stored. ${error.fix}\n`);
      return 1;
    } finally {
      await runtime.stop();
    }
  },
  migrate: async (args) => {
    flagsOf(args, {});
    const config = loadConfig(process.env);
    keepDataPrivate(config.dataDir, { create: !config.databaseUrl || !config.secretKey || !config.providers });
    const db = await openDb({
      databaseUrl: config.databaseUrl,
      dataDir: config.pgliteDir,
      preparedStatements: config.preparedStatements,
    });
    try {
      const applied = await migrate(db);
      console.log(applied.length ? `applied migrations ${applied.join(', ')}` : 'store is up to date');
      return 0;
    } finally {
      await db.close();
    }
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  if (name === 'emulator') {
    // The emulators are products of their own and import nothing from src/; the CLI only dispatches to them.
    const { runEmulatorCommand } = await import('../emulators/cli.ts');
    return runEmulatorCommand(rest);
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`unknown command: ${name}\n\n${usage}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${usage}`);
      return 2;
    }
    // A refusal is an answer for the operator, not a crash: its message, without a stack.
    if (error instanceof ConfigError || error instanceof StartRefused) {
      process.stderr.write(`${error.message}\n`);
      return 78; // EX_CONFIG
    }
    throw error;
  }
}
