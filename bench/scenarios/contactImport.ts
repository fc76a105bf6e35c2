// Scenarios 1 and 5: the initial import of QuickBooks customers into the CRM (src/sync/flows/contactImport.ts).
// 1: throughput against the ceiling the binding limit allows, limits scaled by a factor, in this process, with a
//    tenth of the customers already in the CRM (matched by email), and the naive baseline for scenario 7.
// 5: peak RSS of a `ledgerlink worker` process importing a large company (limits lifted, PostgreSQL store): the
//    emulators, which hold every record in memory, stay in this process so that only ledgerlink is measured.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { select } from '../../src/quickbooks/query.ts';
import { readCursor } from '../../src/store/cursors.ts';
import type { Connection } from '../../src/store/connections.ts';
import { CUSTOMER_IMPORT_CURSOR, type ImportProgress } from '../../src/sync/flows/contactImport.ts';
import type { Customer } from '../../src/quickbooks/entities.ts';
import {
  CallCounter,
  postgresAvailable,
  round,
  sleep,
  startBenchStack,
  waitFor,
  type BenchStack,
  type ScenarioResult,
} from '../support.ts';
import { ceiling } from './salesReceipts.ts';

export interface ContactImportOptions {
  customers: number;
  baselineRecords: number;
  importCustomers: number;
  limitFactor: number;
  store: 'pglite' | 'postgres';
  concurrency?: number;
  run1: boolean;
  run5: boolean;
  log: (line: string) => void;
}

const email = (realm: string, i: number) => `customer${i}-${realm.slice(-4)}@import.example`;

/**
 * Puts `count` customers straight into the emulated company: one is created through the API to get the exact
 * shape the emulator writes, the rest are copies of it with their own Id, names and email (the API would take
 * minutes for 100,000 at any limit, and seeding is not what is measured).
 */
async function seedCustomers(stack: BenchStack, realmId: string, count: number): Promise<void> {
  const token = stack.qbo.admin.mintToken(realmId).access_token;
  const response = await fetch(`${stack.qbo.url}/v3/company/${realmId}/customer?minorversion=75`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      DisplayName: 'Template Customer',
      GivenName: 'Template',
      FamilyName: 'Customer',
      PrimaryEmailAddr: { Address: email(realmId, 0) },
      PrimaryPhone: { FreeFormNumber: '(555) 010-0000' },
      BillAddr: {
        Line1: '1 Main St',
        City: 'Springfield',
        CountrySubDivisionCode: 'IL',
        PostalCode: '62701',
        Country: 'US',
      },
    }),
  });
  if (!response.ok) throw new Error(`seeding QuickBooks: ${response.status} ${await response.text()}`);
  const template = ((await response.json()) as { Customer: Record<string, unknown> }).Customer;
  const company = stack.qbo.admin.company(realmId)!;
  const at = stack.qbo.clock.nowMs();
  for (let i = 1; i < count; i++) {
    const id = company.nextId('Customer');
    company.put(
      'Customer',
      {
        ...structuredClone(template),
        Id: id,
        DisplayName: `Customer ${i} ${realmId.slice(-4)}`,
        GivenName: `Customer${i}`,
        FamilyName: 'Imported',
        FullyQualifiedName: `Customer ${i} ${realmId.slice(-4)}`,
        PrimaryEmailAddr: { Address: email(realmId, i) },
        PrimaryPhone: {
          FreeFormNumber: `(555) ${String(100 + (i % 900)).padStart(3, '0')}-${String(i % 10000).padStart(4, '0')}`,
        },
      },
      at,
    );
  }
}

/** A tenth of the customers already exist in the CRM as contacts with the same email (the import matches them). */
async function seedContacts(counter: CallCounter, locationId: string, realmId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 10) {
    await counter.hlAdmin('POST', `/locations/${locationId}/actions/contact`, {
      email: email(realmId, i),
      firstName: `Customer${i}`,
      lastName: 'Existing',
    });
  }
}

async function importProgress(
  stack: Pick<BenchStack, 'db'>,
  connectionId: string,
): Promise<ImportProgress | undefined> {
  return readCursor<ImportProgress>(stack.db, connectionId, CUSTOMER_IMPORT_CURSOR);
}

/** The naive import: one customer read at a time, a duplicate search before every write, nothing remembered. */
async function naiveImport(stack: BenchStack, connection: Connection, count: number): Promise<void> {
  const { qbo, hl } = stack.engine.clientsFor(connection);
  for (let position = 1; position <= count; position++) {
    const [customer] = await qbo.query(select('Customer').orderBy('Id').startPosition(position).maxResults(1));
    if (!customer) break;
    await importNaively(hl, customer);
  }
}

async function importNaively(
  hl: ReturnType<BenchStack['engine']['clientsFor']>['hl'],
  customer: Customer,
): Promise<void> {
  const address = customer.PrimaryEmailAddr?.Address;
  const existing = address ? await hl.contacts.findDuplicate({ email: address }) : undefined;
  const input = {
    firstName: String(customer.GivenName ?? ''),
    lastName: String(customer.FamilyName ?? ''),
    ...(address ? { email: address } : {}),
  };
  if (existing) await hl.contacts.update(existing.id, input);
  else await hl.contacts.create(input);
}

async function runScenario1(
  options: ContactImportOptions,
): Promise<{ result: ScenarioResult; baseline: ScenarioResult }> {
  const { log } = options;
  const stack = await startBenchStack({
    connections: 2,
    limitFactor: options.limitFactor,
    store: options.store,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
  try {
    const counter = new CallCounter(stack);
    const [main, naive] = stack.connections as [Connection, Connection];
    await seedCustomers(stack, main.qboRealmId!, options.customers);
    await seedContacts(counter, main.hlLocationId!, main.qboRealmId!, options.customers);
    stack.qbo.admin.limits.reset();
    const realm = [main.qboRealmId!];
    const q0 = counter.qbo(realm);
    const h0 = counter.hl();
    log(`  importing ${options.customers} customers (limit factor ${options.limitFactor})`);
    const started = performance.now();
    await stack.engine.startInitialImports(main);
    let progress: ImportProgress | undefined;
    await waitFor(
      async () => {
        progress = await importProgress(stack, main.id);
        return Boolean(progress?.finishedAt);
      },
      Math.max(180_000, (options.customers / options.limitFactor) * 1000),
      'the customer import',
      100,
    );
    const seconds = (performance.now() - started) / 1000;
    const q1 = counter.qbo(realm);
    const p = progress!;
    const records = p.created + p.matched;
    const qboUnits = (q1.units - q0.units) / records;
    const hlCalls = (counter.hl() - h0) / records;
    const limit = ceiling(options.limitFactor, qboUnits, hlCalls);
    const perSecond = records / seconds;

    const baselineCount = Math.min(options.baselineRecords, options.customers);
    await seedCustomers(stack, naive.qboRealmId!, baselineCount);
    await seedContacts(counter, naive.hlLocationId!, naive.qboRealmId!, baselineCount);
    stack.qbo.admin.limits.reset();
    log(`  naive baseline: ${baselineCount} customers one at a time`);
    const bq0 = counter.qbo([naive.qboRealmId!]);
    const bh0 = counter.hl();
    const bt0 = performance.now();
    await naiveImport(stack, naive, baselineCount);
    const bSeconds = (performance.now() - bt0) / 1000;
    const bq1 = counter.qbo([naive.qboRealmId!]);
    const baselinePerSecond = baselineCount / bSeconds;
    return {
      result: {
        scenario: 1,
        name: 'QuickBooks customers -> CRM contacts (initial import)',
        status: p.failed === 0 ? 'ok' : `ok (${p.failed} customers failed)`,
        records,
        seconds: round(seconds, 2),
        records_per_second: round(perSecond, 2),
        created: p.created,
        matched: p.matched,
        limit_factor: options.limitFactor,
        binding_limit: limit.binding,
        ceiling_per_second: round(limit.perSecond, 2),
        ratio_to_ceiling: round(perSecond / limit.perSecond),
        calls_per_record: round(hlCalls),
        hl_calls_per_record: round(hlCalls),
        qbo_units_per_record: round(qboUnits, 4),
        throttled_429: q1.throttled - q0.throttled,
        ratio_to_baseline: round(perSecond / baselinePerSecond, 2),
        targets: { ratio_to_ceiling: '>= 0.9' },
      },
      baseline: {
        scenario: 7,
        name: 'naive import',
        status: 'ok',
        records: baselineCount,
        seconds: round(bSeconds, 2),
        records_per_second: round(baselinePerSecond, 2),
        calls_per_record: round((counter.hl() - bh0) / baselineCount),
        qbo_units_per_record: round((bq1.units - bq0.units) / baselineCount),
      },
    };
  } finally {
    await stack.close();
  }
}

function vm(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function runScenario5(options: ContactImportOptions): Promise<ScenarioResult> {
  const { log } = options;
  if (!(await postgresAvailable())) {
    return {
      scenario: 5,
      name: 'Peak RSS importing customers',
      status: 'skipped: needs a PostgreSQL server (DATABASE_URL) for a separate worker process',
      records: 0,
      seconds: 0,
    };
  }
  const stack = await startBenchStack({ connections: 1, limitFactor: Infinity, store: 'postgres', workers: false });
  let worker: ChildProcess | undefined;
  try {
    const [main] = stack.connections as [Connection];
    log(`  seeding ${options.importCustomers} QuickBooks customers`);
    await seedCustomers(stack, main.qboRealmId!, options.importCustomers);
    const bin = fileURLToPath(new URL('../../bin/ledgerlink.js', import.meta.url));
    // LEDGERLINK_BENCH_NODE_ARGS (e.g. '--heap-prof') reaches this worker too, as it does those of scenarios 4 and 6.
    const nodeArgs = (process.env.LEDGERLINK_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    worker = spawn(process.execPath, [...nodeArgs, bin, 'worker'], {
      env: stack.workerEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      worker!.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('running')) resolve();
      });
      worker!.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
    const idleMb = vm(worker.pid!, 'VmRSS') ?? 0;
    let sampled = 0;
    const timer = setInterval(() => {
      sampled = Math.max(sampled, vm(worker!.pid!, 'VmRSS') ?? 0);
    }, 100);
    log(`  importing ${options.importCustomers} customers in a worker process (limits lifted)`);
    const started = performance.now();
    await stack.engine.startInitialImports(main);
    let progress: ImportProgress | undefined;
    try {
      await waitFor(
        async () => {
          progress = await importProgress(stack, main.id);
          return Boolean(progress?.finishedAt);
        },
        Math.max(600_000, options.importCustomers * 20),
        'the large customer import',
        500,
      );
    } finally {
      clearInterval(timer);
    }
    const seconds = (performance.now() - started) / 1000;
    const peak = Math.max(vm(worker.pid!, 'VmHWM') ?? 0, sampled);
    const p = progress!;
    return {
      scenario: 5,
      name: 'Peak RSS of a worker importing customers (limits lifted, PostgreSQL)',
      status: p.failed === 0 ? 'ok' : `ok (${p.failed} failed)`,
      records: p.created + p.matched,
      seconds: round(seconds, 2),
      records_per_second: round((p.created + p.matched) / seconds, 2),
      peak_rss_mb: round(peak, 1),
      idle_rss_mb: round(idleMb, 1),
      targets: { peak_rss_mb: '< 250' },
    };
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await Promise.race([new Promise((r) => worker!.once('exit', r)), sleep(10_000)]);
    }
    await stack.close();
  }
}

export async function runContactImport(
  options: ContactImportOptions,
): Promise<{ scenario1: ScenarioResult; scenario5: ScenarioResult; baseline: ScenarioResult | undefined }> {
  let scenario1: ScenarioResult = {
    scenario: 1,
    name: 'QuickBooks customers -> CRM contacts (initial import)',
    status: 'not run',
    records: 0,
    seconds: 0,
  };
  let baseline: ScenarioResult | undefined;
  if (options.run1) {
    const r = await runScenario1(options);
    scenario1 = r.result;
    baseline = r.baseline;
  }
  let scenario5: ScenarioResult = {
    scenario: 5,
    name: 'Peak RSS importing customers',
    status: 'not run',
    records: 0,
    seconds: 0,
  };
  if (options.run5) {
    try {
      scenario5 = await runScenario5(options);
    } catch (error) {
      scenario5 = {
        scenario: 5,
        name: 'Peak RSS importing customers',
        status: `failed: ${error instanceof Error ? error.message : String(error)}`,
        records: 0,
        seconds: 0,
      };
    }
  }
  return { scenario1, scenario5, baseline };
}
