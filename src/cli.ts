// The `ledgerlink` command. Each sub-command is a small function; `main` returns the exit code.
import { openDb } from './store/db.ts';
import { migrate } from './store/migrate.ts';
import { loadConfig } from './config.ts';

type Command = (args: string[]) => Promise<number>;

const usage = `usage: ledgerlink <command>

commands:
  start                          run ledgerlink (server and workers) on the configured store
  migrate                        apply the store's migrations and exit
  emulator quickbooks [--port N] run the local QuickBooks Online emulator (default port 4010)
  emulator highlevel [--port N]  run the local HighLevel emulator (default port 4020)
`;

const commands: Record<string, Command> = {
  migrate: async () => {
    const config = loadConfig(process.env);
    const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.pgliteDir });
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
  return command(rest);
}
