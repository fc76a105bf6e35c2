// `ledgerlink emulator <quickbooks|highlevel> [--port N] [--host H] [--data FILE] ...`
import { parseArgs } from 'node:util';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

const text = { type: 'string' } as const;
const common = { port: text, host: text, data: text, 'limit-factor': text, 'clock-factor': text };
/** Each emulator's flags; a boolean flag reads as 'true' when given. */
const flagsOf: Record<string, Options> = {
  quickbooks: { ...common, logger: { type: 'boolean' } },
  highlevel: { ...common, 'client-id': text, 'client-secret': text, verbose: { type: 'boolean' } },
};

const usage = 'usage: ledgerlink emulator <quickbooks|highlevel> [--port N] [--host H] [--data FILE]\n';

export async function runEmulatorCommand(argv: string[]): Promise<number> {
  const [which, ...rest] = argv;
  const options = which ? flagsOf[which] : undefined;
  if (!options) {
    process.stderr.write(usage);
    return 2;
  }
  let flags: Record<string, string>;
  try {
    flags = parseFlags(rest, options);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  if (which === 'quickbooks') {
    const { runQuickBooksEmulatorCli } = await import('./quickbooks/main.ts');
    return runQuickBooksEmulatorCli(flags);
  }
  const { runHighLevelEmulatorCli } = await import('./highlevel/main.ts');
  return runHighLevelEmulatorCli(flags);
}

/** The given flags as strings (`--port 0` → { port: '0' }, `--logger` → { logger: 'true' }); throws on unknown ones. */
export function parseFlags(argv: string[], options: Options): Record<string, string> {
  const { values } = parseArgs({ args: argv, options: options ?? {} });
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, String(value)]));
}
