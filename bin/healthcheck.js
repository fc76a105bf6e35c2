#!/usr/bin/env node
// The container image's health check: GET /healthz on this process's own listener, exit 0 on a 200 and 1 otherwise.
// Plain JavaScript with no imports, so a check every few seconds costs a bare Node start, not the TypeScript loader.
// The listener is LEDGERLINK_METRICS_PORT's when set (the only one a `ledgerlink worker` has), else the main port.
const env = process.env;
const metrics = env.LEDGERLINK_METRICS_PORT && env.LEDGERLINK_METRICS_PORT !== '0';
const port = metrics ? env.LEDGERLINK_METRICS_PORT : env.LEDGERLINK_PORT || '3000';
let host = (metrics ? env.LEDGERLINK_METRICS_HOST : env.LEDGERLINK_HOST) || '127.0.0.1';
if (host === '0.0.0.0' || host === '::') host = '127.0.0.1';
if (host.includes(':')) host = `[${host}]`;

try {
  const response = await fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) console.error(`/healthz answered ${response.status}`);
  process.exitCode = response.ok ? 0 : 1;
} catch (error) {
  console.error(`/healthz on ${host}:${port}: ${error.cause?.code ?? error.message}`);
  process.exitCode = 1;
}
