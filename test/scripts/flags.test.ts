// The command lines parse their flags with node:util's parseArgs: the flags they document are read as before, and an
// unknown one is refused by name, with the usage, before anything starts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.ts';
import { parseFlags, runEmulatorCommand } from '../../emulators/cli.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs `fn` with stderr captured. */
async function withStderr(fn: () => Promise<number>): Promise<{ code: number; text: string }> {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await fn(), text: written.join('') };
  } finally {
    process.stderr.write = write;
  }
}

describe('command-line flags', () => {
  it('ledgerlink refuses an unknown flag by name, with the usage, before opening anything', async () => {
    for (const command of ['migrate', 'worker', 'start', 'connect']) {
      const { code, text } = await withStderr(() => main([command, '--no-such-flag']));
      assert.equal(code, 2, command);
      assert.match(text, /Unknown option '--no-such-flag'/, command);
      assert.match(text, /usage: ledgerlink <command>/, command);
    }
  });

  it('the emulators read their documented flags, booleans as "true", and refuse others', async () => {
    const options = {
      port: { type: 'string' },
      'limit-factor': { type: 'string' },
      logger: { type: 'boolean' },
    } as const;
    assert.deepEqual(parseFlags(['--port', '0', '--limit-factor=off', '--logger'], options), {
      port: '0',
      'limit-factor': 'off',
      logger: 'true',
    });
    const refused = await withStderr(() => runEmulatorCommand(['quickbooks', '--prot', '4010']));
    assert.equal(refused.code, 2);
    assert.match(refused.text, /Unknown option '--prot'/);
    assert.match(refused.text, /usage: ledgerlink emulator <quickbooks\|highlevel>/);
    const unnamed = await withStderr(() => runEmulatorCommand(['salesforce']));
    assert.equal(unnamed.code, 2);
    assert.match(unnamed.text, /usage: ledgerlink emulator/);
  });

  it('the benchmark and the vendor-specs script refuse an unknown flag with their usage', () => {
    const bench = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quik'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.notEqual(bench.status, 0);
    assert.match(bench.stderr, /Unknown option '--quik'/);
    assert.match(bench.stderr, /npm run bench -- \[--quick\]/);
    const specs = spawnSync(process.execPath, ['scripts/vendor-specs.mjs', '--into', '/tmp'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(specs.status, 1);
    assert.match(specs.stderr, /Unknown option '--into'/);
    assert.match(specs.stderr, /usage: node scripts\/vendor-specs.mjs/);
  });
});
