// `ledgerlink emulator quickbooks [--port 4010] [--host 127.0.0.1] [--data FILE] [--limit-factor N] [--clock-factor N]`
import { startQuickBooksEmulator } from './index.ts';

export async function runQuickBooksEmulatorCli(flags: Record<string, string>): Promise<number> {
  const number = (name: string): number | undefined => {
    const raw = flags[name];
    if (raw === undefined) return undefined;
    const value = raw.toLowerCase() === 'infinity' ? Infinity : Number(raw);
    if (Number.isNaN(value)) throw new Error(`--${name} expects a number, got ${raw}`);
    return value;
  };
  const emulator = await startQuickBooksEmulator({
    port: number('port') ?? 4010,
    host: flags.host ?? '127.0.0.1',
    ...(flags.data ? { dataFile: flags.data } : {}),
    ...(number('limit-factor') !== undefined ? { limitFactor: number('limit-factor')! } : {}),
    ...(number('clock-factor') !== undefined ? { clockFactor: number('clock-factor')! } : {}),
    ...(flags.logger === 'true' ? { logger: true } : {}),
  });
  process.stdout.write(
    `QuickBooks Online emulator listening on ${emulator.url}\n` +
      `  admin API: ${emulator.url}/_emulator/  (POST /_emulator/companies {"country":"US"}, POST /_emulator/tokens {"realmId":"..."})\n`,
  );
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      void emulator.close().then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
