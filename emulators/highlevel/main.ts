// `ledgerlink emulator highlevel [--port 4020] [--host 127.0.0.1] [--data FILE] [--limit-factor N|off] [--clock-factor N]`
import { startHighLevelEmulator } from './index.ts';

export async function runHighLevelEmulatorCli(flags: Record<string, string>): Promise<number> {
  const port = flags.port !== undefined ? Number(flags.port) : 4020;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`invalid --port ${flags.port}\n`);
    return 2;
  }
  const limitFlag = flags['limit-factor'];
  const limitFactor =
    limitFlag === undefined
      ? 1
      : limitFlag === 'off' || limitFlag === 'inf' || limitFlag === 'Infinity'
        ? Infinity
        : Number(limitFlag);
  const clockFactor = flags['clock-factor'] !== undefined ? Number(flags['clock-factor']) : 1;
  if (!(limitFactor > 0) || !(clockFactor > 0)) {
    process.stderr.write('--limit-factor and --clock-factor must be positive numbers (or --limit-factor off)\n');
    return 2;
  }
  const emulator = await startHighLevelEmulator({
    port,
    host: flags.host ?? '127.0.0.1',
    ...(flags.data ? { dataFile: flags.data } : {}),
    limitFactor,
    clockFactor,
    ...(flags['client-id'] ? { clientId: flags['client-id'] } : {}),
    ...(flags['client-secret'] ? { clientSecret: flags['client-secret'] } : {}),
    logger: flags.verbose === 'true',
  });
  process.stdout.write(`HighLevel emulator listening on ${emulator.url}\n`);
  process.stdout.write(
    `  app client_id=${emulator.core.app.clientId} client_secret=${emulator.core.app.clientSecret}\n`,
  );
  process.stdout.write(`  admin API: ${emulator.url}/_emulator/ (see emulators/highlevel/README.md)\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await emulator.close();
  return 0;
}
