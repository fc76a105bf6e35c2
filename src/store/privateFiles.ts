// Everything ledgerlink writes under its data folder (the embedded store, the token key, the demo's emulator data
// and admin password) is private to the user running it: folders 0700, files 0600. The store holds every synced
// customer and invoice and the sealed tokens; under a umask of 000 (common in containers) most of it would be 0666.
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Sets the process's umask so that whatever it creates from now on (PGlite's files, saved emulator data) is
 * private, and makes the data folder and what is already in it private (files left by an earlier start). `create`:
 * the folder will be used (embedded store, key file), so it is made now, 0700; otherwise only an existing one is
 * fixed.
 */
export function keepDataPrivate(dataDir: string, options: { create: boolean }): void {
  process.umask(0o077);
  if (options.create) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  else if (!existsSync(dataDir)) return;
  makePrivate(dataDir);
}

function makePrivate(path: string): void {
  const stat = lstatSync(path);
  // A symbolic link's target may be anyone's (a mounted volume): it is left as its owner set it.
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    if ((stat.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
    for (const name of readdirSync(path)) makePrivate(join(path, name));
  } else if ((stat.mode & 0o077) !== 0) {
    chmodSync(path, stat.mode & 0o700);
  }
}
