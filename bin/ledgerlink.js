#!/usr/bin/env node
// Entry point of the `ledgerlink` command. The sources are TypeScript run through tsx, so no build step
// stands between a clone and `npm start`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
