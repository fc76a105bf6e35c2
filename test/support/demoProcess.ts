// `npm start` as a newcomer runs it (the demo: both emulators, ledgerlink, seeded data), in a child process on
// free ports with a throwaway data folder, for browser tests and the screenshot script.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface DemoProcess {
  url: string;
  quickbooksUrl: string;
  highlevelUrl: string;
  password: string;
  dataDir: string;
  /** Milliseconds from spawn to the dashboard answering. */
  startupMs: number;
  output(): string;
  /** Ctrl-C, as a person would; resolves with the exit code. */
  stop(options?: { keepData?: boolean }): Promise<number | null>;
}

/** `password: null`: the demo generates its admin password and keeps it in the data folder (as for a newcomer). */
/** `env`: settings of the test's own, over the defaults below (e.g. the poll interval). */
export async function startDemoProcess(
  options: { dataDir?: string; password?: string | null; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<DemoProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'ledgerlink-demo-'));
  const password = options.password === null ? '' : (options.password ?? 'demo-password-for-tests');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LEDGERLINK_DATA_DIR: dataDir,
    LEDGERLINK_PORT: '0',
    LEDGERLINK_LOG_LEVEL: 'warn',
    LEDGERLINK_POLL_SECONDS: '60',
    ...options.env,
  };
  if (password) env.LEDGERLINK_ADMIN_PASSWORD = password;
  else delete env.LEDGERLINK_ADMIN_PASSWORD;
  // The demo runs only without provider credentials: a developer's own environment must not turn it real.
  for (const name of Object.keys(env)) if (/^(QBO|HL)_/.test(name) || name === 'DATABASE_URL') delete env[name];
  const started = Date.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [join(root, 'bin', 'ledgerlink.js'), 'start', '--qbo-port', '0', '--hl-port', '0'],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  for (;;) {
    const url = /ledgerlink is running at (http:\/\/\S+)/.exec(out)?.[1];
    const quickbooksUrl = /QuickBooks Online emulator: (http:\/\/\S+)/.exec(out)?.[1];
    const highlevelUrl = /HighLevel emulator: +(http:\/\/\S+)/.exec(out)?.[1];
    // "Ready." follows the first start's demo data: tests act on it.
    if (url && quickbooksUrl && highlevelUrl && out.includes('Ready.')) {
      const health = await fetch(`${url}/healthz`)
        .then((r) => r.ok)
        .catch(() => false);
      if (health) {
        const startupMs = Date.now() - started;
        return {
          url,
          quickbooksUrl,
          highlevelUrl,
          password,
          dataDir,
          startupMs,
          output: () => out,
          stop: async (stopOptions = {}) => {
            child.kill('SIGINT');
            const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
            if (child.exitCode === null) child.kill('SIGKILL');
            if (!stopOptions.keepData && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
            return code;
          },
        };
      }
    }
    if (child.exitCode !== null) throw new Error(`the demo exited (${child.exitCode}) before answering:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the demo did not answer in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
