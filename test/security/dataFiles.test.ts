// Issue 17, finding 4: the data folder and everything ledgerlink writes in it are private to its user (0700 folders,
// 0600 files): the embedded store, the token key, the emulators' saved data and the demo's admin password, whatever
// the umask it was started with, and files left readable by an earlier version are made private at start.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoProcess } from '../support/demoProcess.ts';

/** Every path under `dir` (itself included) that its group or others may read, write or enter. */
function notPrivate(dir: string): string[] {
  const open: string[] = [];
  const visit = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) open.push(`${path} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return open;
}

describe('files ledgerlink writes', () => {
  it('the demo started with umask 000 leaves nothing in its data folder readable by others, old files included', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ledgerlink-private-'));
    chmodSync(dataDir, 0o777);
    mkdirSync(join(dataDir, 'demo'), { mode: 0o777 });
    writeFileSync(join(dataDir, 'demo', 'left-by-an-older-version.json'), '{}');
    chmodSync(join(dataDir, 'demo', 'left-by-an-older-version.json'), 0o666);
    // The child inherits the umask: 000 is what made most of .data/pglite 0666.
    const umask = process.umask(0);
    let demo: Awaited<ReturnType<typeof startDemoProcess>>;
    try {
      demo = await startDemoProcess({ dataDir, password: null, timeoutMs: 180_000 });
    } finally {
      process.umask(umask);
    }
    try {
      assert.deepEqual(notPrivate(dataDir), [], 'while running');
      const names = readdirSync(join(dataDir, 'demo'));
      for (const kept of ['admin-password', 'demo.json', 'quickbooks.json'])
        assert.ok(names.includes(kept), `${kept} among ${names.join(', ')}`);
    } finally {
      await demo.stop();
    }
    try {
      assert.deepEqual(notPrivate(dataDir), [], 'after stopping (data saved on the way out)');
      assert.ok(readdirSync(join(dataDir, 'pglite')).length > 0, 'the store is in the folder checked');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
