// `ledgerlink emulator <quickbooks|highlevel> [--port N] [--host H] [--data FILE]`
export async function runEmulatorCommand(argv: string[]): Promise<number> {
  const [which, ...rest] = argv;
  const flags = parseFlags(rest);
  if (which === 'quickbooks') {
    const { runQuickBooksEmulatorCli } = await import('./quickbooks/main.ts');
    return runQuickBooksEmulatorCli(flags);
  }
  if (which === 'highlevel') {
    const { runHighLevelEmulatorCli } = await import('./highlevel/main.ts');
    return runHighLevelEmulatorCli(flags);
  }
  process.stderr.write('usage: ledgerlink emulator <quickbooks|highlevel> [--port N] [--host H] [--data FILE]\n');
  return 2;
}

export function parseFlags(argv: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const [key, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) flags[key] = inline;
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) flags[key] = argv[++i]!;
    else flags[key] = 'true';
  }
  return flags;
}
