// `npm audit --omit=dev` with a verdict CI can use: exit 1 when a production dependency has a high or critical
// advisory; when the registry cannot answer audits (some mirrors refuse the endpoint), say so plainly and exit 0,
// since an audit that did not run proves nothing either way. `node scripts/audit.mjs --strict` fails then too.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

let strict;
try {
  strict = parseArgs({ options: { strict: { type: 'boolean', default: false } } }).values.strict;
} catch (error) {
  console.error(`${error.message}\nusage: node scripts/audit.mjs [--strict]`);
  process.exit(2);
}
const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], {
  encoding: 'utf8',
  shell: process.platform === 'win32',
});
let report;
try {
  report = JSON.parse(run.stdout || '{}');
} catch {
  report = {};
}
const counts = report.metadata?.vulnerabilities;
if (!counts) {
  const why =
    report.error?.summary ||
    report.message ||
    (run.stderr || '').split('\n').find((l) => /error|405|ENOTFOUND|ECONN/i.test(l)) ||
    'no answer';
  console.log(`npm audit: the registry did not answer the audit (${String(why).trim()}); dependencies NOT checked`);
  process.exit(strict ? 1 : 0);
}
const serious = (counts.high ?? 0) + (counts.critical ?? 0);
console.log(
  `npm audit --omit=dev: ${counts.critical ?? 0} critical, ${counts.high ?? 0} high, ${counts.moderate ?? 0} moderate, ${counts.low ?? 0} low`,
);
for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
  if (v.severity === 'high' || v.severity === 'critical') console.log(`  ${v.severity}: ${name} ${v.range ?? ''}`);
}
process.exit(serious > 0 ? 1 : 0);
