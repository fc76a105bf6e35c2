// The container path (Dockerfile, compose.yaml, deploy/*.env.example) held to what the code and CI say: every
// variable they set is one src/config.ts reads, every variable docs/configuration.md calls required is set on each
// ledgerlink service and the result loads, the image's Node is the one CI tests, the production dependencies alone
// hold everything the image runs, and the image's health check answers as /healthz does. No registry is reachable
// where CI runs, so the image itself is not built here: these are the facts a build would depend on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

/** The variables src/config.ts reads: the keys of its environment schema. */
function configVariables(): Set<string> {
  const source = read('src/config.ts');
  const start = source.indexOf('const envSchema = z.object({');
  const end = source.indexOf('\n});', start);
  assert.ok(start >= 0 && end > start, 'src/config.ts has its envSchema');
  return new Set([...source.slice(start, end).matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
}

/** The variables docs/configuration.md lists under "Required in a deployment". */
function requiredVariables(): string[] {
  const doc = read('docs/configuration.md');
  const section = doc.slice(doc.indexOf('## Required in a deployment'));
  const table = section.slice(0, section.indexOf('\n## ', 5));
  return [...table.matchAll(/^\| `([A-Z][A-Z0-9_]*)` +\|/gm)].map((m) => m[1]!);
}

/** NAME=value lines of an env file (comments and blank lines skipped). */
function envFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(path).split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  env_file?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  healthcheck?: unknown;
}
const compose = parse(read('compose.yaml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const ledgerlinkServices = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('ledgerlink'));

/** What a service's process sees: its env files (their committed .example) under its environment. */
function serviceEnvironment(service: ComposeService): Record<string, string> {
  const fromFiles = (service.env_file ?? []).map((f) => {
    assert.ok(existsSync(join(root, `${f}.example`)), `${f}.example is committed beside the ignored ${f}`);
    return envFile(`${f}.example`);
  });
  return Object.assign({}, ...fromFiles, service.environment ?? {});
}

/** The Dockerfile's instructions (continuation lines joined), by stage. */
function dockerStages(): { from: string; instructions: Array<[string, string]> }[] {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; instructions: Array<[string, string]> }[] = [];
  for (const line of lines) {
    const [keyword, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword!.toUpperCase() === 'FROM') stages.push({ from: args, instructions: [] });
    else stages.at(-1)!.instructions.push([keyword!.toUpperCase(), args]);
  }
  return stages;
}

const pkg = JSON.parse(read('package.json')) as {
  engines: { node: string };
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The Node versions .ci/run tests on: the exact minimum and the Active LTS line. */
function ciNodeVersions(): string[] {
  const m = /^NODE_VERSIONS=\(([^)]*)\)/m.exec(read('.ci/run'));
  assert.ok(m, '.ci/run names its NODE_VERSIONS');
  return m[1]!.trim().split(/\s+/);
}

describe('compose.yaml and its env files against src/config.ts and docs/configuration.md', () => {
  const known = configVariables();

  it('runs PostgreSQL, one `ledgerlink start` and two `ledgerlink worker` from one image, on named volumes', () => {
    const commands = ledgerlinkServices.map(([, s]) => s.command?.join(' '));
    assert.deepEqual(commands.filter((c) => c === 'start').length, 1, 'one start');
    assert.deepEqual(commands.filter((c) => c === 'worker').length, 2, 'two workers');
    assert.equal(new Set(ledgerlinkServices.map(([, s]) => s.image)).size, 1, 'one image');
    const postgres = Object.entries(compose.services).find(([, s]) => s.image?.startsWith('postgres:'));
    assert.ok(postgres, 'a PostgreSQL service');
    assert.ok(
      Number(/^postgres:(\d+)/.exec(postgres[1].image!)![1]) >= 14,
      'PostgreSQL 14 or later (running-for-real.md)',
    );
    assert.ok(postgres[1].healthcheck, 'PostgreSQL has a health check the others wait for');
    for (const [name, s] of ledgerlinkServices) {
      assert.equal(s.depends_on?.[postgres[0]]?.condition, 'service_healthy', `${name} waits for PostgreSQL`);
    }
    for (const volume of postgres[1].volumes ?? []) {
      const named = volume.split(':')[0]!;
      assert.ok(named in compose.volumes, `${named} is a named volume`);
    }
  });

  it('sets only variables src/config.ts reads, on every ledgerlink service', () => {
    for (const [name, service] of ledgerlinkServices) {
      const unknown = Object.keys(serviceEnvironment(service)).filter((v) => !known.has(v));
      assert.deepEqual(unknown, [], `${name} sets variables ledgerlink does not read`);
    }
    // Commented-out optional ones in the example count too: a typo there is a typo an operator copies.
    const mentioned = [...read('deploy/ledgerlink.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map(
      (m) => m[1]!,
    );
    assert.deepEqual(
      mentioned.filter((v) => !known.has(v)),
      [],
    );
  });

  it('sets every variable docs/configuration.md requires, and each exists in src/config.ts', () => {
    const required = requiredVariables();
    assert.ok(required.length >= 8, `the required list is read from the doc (${required.join(', ')})`);
    assert.deepEqual(
      required.filter((v) => !known.has(v)),
      [],
    );
    for (const [name, service] of ledgerlinkServices) {
      const env = serviceEnvironment(service);
      assert.deepEqual(
        required.filter((v) => !(v in env)),
        [],
        `${name} lacks required variables`,
      );
    }
  });

  it('gives each service a configuration that loads as a real deployment on PostgreSQL', () => {
    for (const [name, service] of ledgerlinkServices) {
      // The example's secrets are blank placeholders for the operator; fill them as an operator would.
      const env = Object.fromEntries(
        Object.entries(serviceEnvironment(service)).map(([k, v]) => [
          k,
          v || (k === 'LEDGERLINK_SECRET_KEY' ? 'ab'.repeat(32) : 'filled-in'),
        ]),
      );
      const config = loadConfig(env);
      assert.ok(config.databaseUrl?.startsWith('postgres://'), `${name}: PostgreSQL`);
      assert.ok(config.providers, `${name}: real providers, not the demo`);
      assert.ok(config.secretKey, `${name}: the shared token key`);
      if (service.command?.[0] === 'start') assert.equal(config.host, '0.0.0.0', 'start listens beyond the container');
      else
        assert.ok(
          config.metricsPort,
          `${name}: a worker serves /healthz on its metrics port, for the image's health check`,
        );
    }
  });

  it('keeps the env files with secrets out of git', () => {
    const ignored = read('.gitignore').split('\n');
    assert.ok(ignored.includes('deploy/*.env'));
    for (const [, s] of ledgerlinkServices)
      for (const f of s.env_file ?? []) assert.ok(/^deploy\/[^/]+\.env$/.test(f), f);
  });
});

describe('Dockerfile against package.json and CI', () => {
  const stages = dockerStages();
  const final = stages.at(-1)!;
  const last = (keyword: string) => final.instructions.filter(([k]) => k === keyword).at(-1)?.[1];

  it('is multi-stage, on the Node CI tests as Active LTS, installing production dependencies from the lockfile', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    const lts = ciNodeVersions().find((v) => !v.includes('.'))!;
    for (const stage of stages)
      assert.match(stage.from, new RegExp(`^node:${lts}(-[a-z]+)*\\b`), `every stage on node:${lts}`);
    const runs = stages.flatMap((s) => s.instructions.filter(([k]) => k === 'RUN').map(([, a]) => a));
    assert.ok(
      runs.some((r) => /\bnpm ci\b/.test(r) && r.includes('--omit=dev')),
      'npm ci --omit=dev',
    );
    assert.ok(!runs.some((r) => /\bnpm (install|i)\b/.test(r)), 'no npm install: the lockfile decides');
  });

  it('agrees with engines and CI on the minimum Node', () => {
    const [minimum] = ciNodeVersions();
    assert.equal(pkg.engines.node, `>=${minimum!.replace(/\.0$/, '')}`);
  });

  it("runs as a user other than root, the package's own bin, with a health check on /healthz", () => {
    const user = last('USER');
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`);
    const entrypoint = JSON.parse(last('ENTRYPOINT')!) as string[];
    assert.deepEqual(entrypoint, ['node', pkg.bin.ledgerlink]);
    assert.deepEqual(JSON.parse(last('CMD')!), ['start']);
    const health = last('HEALTHCHECK')!;
    const script = /CMD \["node", "([^"]+)"\]/.exec(health)?.[1];
    assert.ok(script && read(script).includes('/healthz'), `HEALTHCHECK runs ${script}, which asks /healthz`);
  });

  it('copies only files that exist, and they are all the image runs', () => {
    const copied = final.instructions
      .filter(([k, a]) => k === 'COPY' && !a.startsWith('--from'))
      .flatMap(([, a]) => a.split(/\s+/).slice(0, -1));
    for (const path of copied) assert.ok(existsSync(join(root, path)), `${path} exists`);
    for (const path of ['bin', 'src', 'package.json', 'package-lock.json'])
      assert.ok(copied.includes(path), `${path} is copied`);
    const ignore = read('.dockerignore')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    for (const path of copied) assert.ok(ignore.includes(path), `.dockerignore lets ${path} through`);
  });

  it("needs nothing outside package.json's production dependencies", () => {
    // Every package the copied code imports (tests aside, which the image leaves out) must survive --omit=dev.
    const builtins = new Set(builtinModules);
    const missing = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const name of readdirSync(join(root, dir))) {
        const path = join(dir, name);
        if (statSync(join(root, path)).isDirectory()) walk(path);
        else if (/\.(ts|js|mjs)$/.test(name) && !name.endsWith('.test.ts')) {
          const text = read(path);
          for (const m of text.matchAll(
            /^\s*import\s+(?!type\b)[^'"]*?from\s+'([^'.][^']*)'|\bimport\(\s*'([^'.][^']*)'\s*\)/gm,
          )) {
            const spec = (m[1] ?? m[2])!;
            if (spec.startsWith('node:') || builtins.has(spec)) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            if (!(name in pkg.dependencies)) missing.set(name, path);
          }
        }
      }
    };
    for (const dir of ['bin', 'src', 'demo', 'emulators']) walk(dir);
    assert.deepEqual([...missing], []);
  });
});

describe("the image's health check (bin/healthcheck.js)", () => {
  let server: Server;
  let status = 200;
  let port = 0;
  before(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const check = (env: Record<string, string>): Promise<number> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [join(root, 'bin/healthcheck.js')], {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: 'ignore',
      });
      child.on('exit', (code) => resolve(code ?? -1));
    });

  it('passes on a 200 from /healthz on the main port, and on a listener bound to every address', async () => {
    status = 200;
    assert.equal(await check({ LEDGERLINK_PORT: String(port) }), 0);
    assert.equal(await check({ LEDGERLINK_PORT: String(port), LEDGERLINK_HOST: '0.0.0.0' }), 0);
  });

  it("asks the metrics port when there is one (a worker's only listener)", async () => {
    status = 200;
    assert.equal(await check({ LEDGERLINK_PORT: '1', LEDGERLINK_METRICS_PORT: String(port) }), 0);
  });

  it('fails on another answer, or when nothing listens', async () => {
    status = 503;
    assert.equal(await check({ LEDGERLINK_PORT: String(port) }), 1);
    status = 200;
    assert.equal(await check({ LEDGERLINK_PORT: '1' }), 1);
  });
});
