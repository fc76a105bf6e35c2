// Scenario 2: CRM payments -> QuickBooks sales receipts with both providers' limits scaled by a factor, and
// scenario 7's naive baseline for the same work. Payments come from a pool of contacts (some already customers in
// QuickBooks, matched by email) and a pool of product names (some already items in QuickBooks), so the run mixes
// new and returning customers and items. HighLevel sends no webhook for transactions, so the work starts as
// production's does when a backlog exists: one poll job lists the transactions and enqueues one job each.
import { performance } from 'node:perf_hooks';
import { select } from '../../src/quickbooks/query.ts';
import type { Connection } from '../../src/store/connections.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import {
  CallCounter,
  HL_PER_10S,
  QBO_PER_MINUTE,
  round,
  seededRandom,
  startBenchStack,
  statementCount,
  statements,
  waitFor,
  type BenchStack,
  type ScenarioResult,
} from '../support.ts';

export interface SalesReceiptOptions {
  records: number;
  /** Payments of the steady-state phase (known customers and items only). */
  steadyRecords: number;
  baselineRecords: number;
  limitFactor: number;
  store: 'pglite' | 'postgres';
  concurrency?: number;
  log: (line: string) => void;
}

interface Workload {
  contacts: Array<{ email: string; firstName: string; lastName: string }>;
  items: string[];
  /** Contacts (by index) and items (by name) that QuickBooks already holds before the run. */
  existingContacts: number[];
  existingItems: string[];
}

function workload(records: number, seed: number): Workload {
  const contacts = Array.from({ length: Math.max(20, Math.round(records * 0.3)) }, (_, i) => ({
    email: `buyer${seed}-${i}@bench.example`,
    firstName: `Buyer${i}`,
    lastName: `Bench${seed}`,
  }));
  const items = Array.from({ length: 40 }, (_, i) => `Product ${i + 1}`);
  return {
    contacts,
    items,
    existingContacts: contacts.map((_, i) => i).filter((i) => i % 3 === 0),
    existingItems: items.slice(0, 10),
  };
}

/** Creates what QuickBooks holds before the run, through its batch API (30 creates a call). */
async function seedQuickBooks(stack: BenchStack, realmId: string, w: Workload): Promise<void> {
  const token = stack.qbo.admin.mintToken(realmId).access_token;
  const income = stack.qbo.admin
    .listEntities(realmId, 'Account')
    .find((a) => a.AccountType === 'Income' && a.Active !== false);
  const bodies: Array<Record<string, unknown>> = [
    ...w.existingContacts.map((i) => {
      const c = w.contacts[i]!;
      return {
        operation: 'create',
        Customer: {
          DisplayName: `${c.firstName} ${c.lastName} (QuickBooks)`,
          GivenName: c.firstName,
          FamilyName: c.lastName,
          PrimaryEmailAddr: { Address: c.email },
        },
      };
    }),
    ...w.existingItems.map((name) => ({
      operation: 'create',
      Item: { Name: name, Type: 'Service', IncomeAccountRef: { value: String(income?.Id ?? '1') } },
    })),
  ];
  for (let i = 0; i < bodies.length; i += 30) {
    const part = bodies.slice(i, i + 30).map((b, j) => ({ bId: `s${i + j}`, ...b }));
    const response = await fetch(`${stack.qbo.url}/v3/company/${realmId}/batch?minorversion=75`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ BatchItemRequest: part }),
    });
    if (!response.ok) throw new Error(`seeding QuickBooks: ${response.status} ${await response.text()}`);
  }
}

/** Takes `count` payments in the CRM; returns their transaction ids. */
async function takePayments(
  counter: CallCounter,
  locationId: string,
  w: Workload,
  count: number,
  random: () => number,
  pick: { contacts?: number[]; items?: string[] } = {},
): Promise<string[]> {
  const ids: string[] = [];
  const contactPool = pick.contacts ?? w.contacts.map((_, i) => i);
  const itemPool = pick.items ?? w.items;
  for (let i = 0; i < count; i++) {
    const contact = w.contacts[contactPool[Math.floor(random() * contactPool.length)]!]!;
    const lines = 1 + Math.floor(random() * 2);
    const items = Array.from({ length: lines }, () => ({
      name: itemPool[Math.floor(random() * itemPool.length)]!,
      amount: 5 + Math.floor(random() * 200),
      qty: 1,
    }));
    const result = await counter.hlAdmin<{ transactionId: string }>(
      'POST',
      `/locations/${locationId}/actions/order-form-payment`,
      { contact, items },
    );
    ids.push(result.transactionId);
  }
  return ids;
}

/** Receipts linked, and payments given up on (errors), for one connection. */
async function progress(stack: BenchStack, connectionId: string): Promise<{ linked: number; failed: number }> {
  const rows = await stack.db.query<{ linked: string | number; failed: string | number }>(
    `SELECT (SELECT count(*) FROM links WHERE connection_id = $1 AND kind = 'salesReceipt' AND state = 'linked') AS linked,
            (SELECT count(DISTINCT crm_id) FROM activity WHERE connection_id = $1 AND flow = 'salesReceipts' AND status = 'error') AS failed`,
    [connectionId],
  );
  return { linked: Number(rows.rows[0]?.linked ?? 0), failed: Number(rows.rows[0]?.failed ?? 0) };
}

interface PhaseResult {
  records: number;
  seconds: number;
  qboCalls: number;
  qboUnits: number;
  hlCalls: number;
  throttled: number;
  failed: number;
  /** SQL statements through the store meanwhile (polling for completion included, a few a second). */
  sql: number;
  /** CPU time of this process (engine, store when PGlite, and the emulators) meanwhile. */
  cpuSeconds: number;
}

async function runPhase(
  stack: BenchStack,
  counter: CallCounter,
  connection: Connection,
  expectedTotal: number,
  timeoutMs: number,
): Promise<PhaseResult> {
  const realm = [connection.qboRealmId!];
  const q0 = counter.qbo(realm);
  const h0 = counter.hl();
  const before = await progress(stack, connection.id);
  const s0 = statementCount();
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await stack.engine.queue.enqueue(QUEUES.pollPayments, {
    connectionId: connection.id,
    key: `${connection.id}:poll:payments`,
  });
  let last = before;
  await waitFor(
    async () => {
      last = await progress(stack, connection.id);
      return last.linked + last.failed >= expectedTotal;
    },
    timeoutMs,
    `${expectedTotal} sales receipts`,
    50,
  );
  const seconds = (performance.now() - started) / 1000;
  const q1 = counter.qbo(realm);
  const sql = statementCount() - s0;
  const cpu = process.cpuUsage(cpu0);
  return {
    records: last.linked - before.linked,
    seconds,
    sql,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    qboCalls: q1.calls - q0.calls,
    qboUnits: q1.units - q0.units,
    hlCalls: counter.hl() - h0,
    throttled: q1.throttled - q0.throttled,
    failed: last.failed - before.failed,
  };
}

/** Records a second the binding limit allows at this many calls per record, and which limit binds. */
export function ceiling(
  limitFactor: number,
  qboUnitsPerRecord: number,
  hlCallsPerRecord: number,
): { perSecond: number; binding: string } {
  const qbo = qboUnitsPerRecord > 0 ? (QBO_PER_MINUTE * limitFactor) / 60 / qboUnitsPerRecord : Infinity;
  const hl = hlCallsPerRecord > 0 ? (HL_PER_10S * limitFactor) / 10 / hlCallsPerRecord : Infinity;
  return qbo <= hl
    ? { perSecond: qbo, binding: 'quickbooks 500/min' }
    : { perSecond: hl, binding: 'highlevel 100/10 s' };
}

/**
 * The naive way, for scenario 7: one payment at a time, every fact looked up before every write (contact,
 * customer by email, each item by name), nothing remembered, nothing batched. Same clients, same limiter.
 */
async function naiveSync(stack: BenchStack, connection: Connection, transactionIds: readonly string[]): Promise<void> {
  const { qbo, hl } = stack.engine.clientsFor(connection);
  const income = (await qbo.query(select('Account').where('AccountType', '=', 'Income').maxResults(1)))[0];
  let n = 0;
  for (const id of transactionIds) {
    n += 1;
    const txn = await hl.payments.getTransaction(id);
    const order = txn.entityId ? await hl.payments.getOrder(txn.entityId) : undefined;
    const contact = await hl.contacts.get(String(txn.contactId));
    const email = String(contact.email);
    let customer = (await qbo.query(select('Customer').where('PrimaryEmailAddr', '=', email)))[0];
    if (!customer) {
      customer = await qbo.create(
        'Customer',
        {
          DisplayName: `${contact.firstName ?? ''} ${contact.lastName ?? ''} <${email}>`.trim(),
          PrimaryEmailAddr: { Address: email },
        },
        { requestId: `naive-c-${id}` },
      );
    }
    const lines: Array<Record<string, unknown>> = [];
    for (const raw of order?.items ?? []) {
      const line = raw as { name?: string; qty?: number; price?: { amount?: number } };
      const name = String(line.name ?? 'Sale');
      let item = (await qbo.query(select('Item').where('Name', '=', name)))[0];
      if (!item)
        item = await qbo.create(
          'Item',
          { Name: name, Type: 'Service', IncomeAccountRef: { value: String(income?.Id ?? '1') } },
          { requestId: `naive-i-${id}-${lines.length}` },
        );
      const qty = line.qty ?? 1;
      const unit = line.price?.amount ?? 0;
      lines.push({
        Amount: Math.round(qty * unit * 100) / 100,
        DetailType: 'SalesItemLineDetail',
        SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: qty, UnitPrice: unit },
      });
    }
    await qbo.create(
      'SalesReceipt',
      { CustomerRef: { value: customer.Id }, Line: lines },
      { requestId: `naive-r-${id}` },
    );
  }
  if (n !== transactionIds.length) throw new Error('naive baseline skipped payments');
}

export async function runSalesReceipts(options: SalesReceiptOptions): Promise<{
  scenario2: ScenarioResult;
  baseline: {
    records: number;
    seconds: number;
    perSecond: number;
    qboCallsPerRecord: number;
    hlCallsPerRecord: number;
  };
}> {
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
    const w = workload(options.records, 1);
    await seedQuickBooks(stack, main.qboRealmId!, w);
    const random = seededRandom(42);
    log(`  taking ${options.records} payments in the CRM`);
    await takePayments(counter, main.hlLocationId!, w, options.records, random);
    stack.qbo.admin.limits.reset(); // seeding used some of the realm's budget; the measured run starts with a full one
    const timeout = Math.max(120_000, (options.records / Math.max(0.5, options.limitFactor)) * 1000);
    log(`  syncing (limit factor ${options.limitFactor})`);
    const first = await runPhase(stack, counter, main, options.records, timeout);

    // Steady state: the same contacts and items again, so customers and items are known (linked).
    const usedContacts = w.contacts.map((_, i) => i);
    log(`  steady state: ${options.steadyRecords} more payments of known customers and items`);
    await takePayments(counter, main.hlLocationId!, w, options.steadyRecords, random, {
      contacts: usedContacts,
      items: w.items,
    });
    const steady = await runPhase(stack, counter, main, options.records + options.steadyRecords, timeout);

    if (process.env.LEDGERLINK_BENCH_SQL) {
      for (const [sql, n] of [...statements.entries()].sort((x, y) => y[1] - x[1]).slice(0, 25))
        log(`    ${String(n).padStart(7)}  ${sql}`);
    }
    const perSecond = first.records / first.seconds;
    const qboUnits = first.qboUnits / first.records;
    const hlCalls = first.hlCalls / first.records;
    const limit = ceiling(options.limitFactor, qboUnits, hlCalls);
    const steadyLimit = ceiling(options.limitFactor, steady.qboUnits / steady.records, steady.hlCalls / steady.records);

    // Baseline (scenario 7) on the second connection: its own realm and location, the same kind of workload.
    const wb = workload(options.baselineRecords, 2);
    await seedQuickBooks(stack, naive.qboRealmId!, wb);
    const baselineIds = await takePayments(counter, naive.hlLocationId!, wb, options.baselineRecords, seededRandom(43));
    stack.qbo.admin.limits.reset();
    log(`  naive baseline: ${options.baselineRecords} payments one at a time`);
    const q0 = counter.qbo([naive.qboRealmId!]);
    const h0 = counter.hl();
    const t0 = performance.now();
    await naiveSync(stack, naive, baselineIds);
    const baselineSeconds = (performance.now() - t0) / 1000;
    const q1 = counter.qbo([naive.qboRealmId!]);
    const baseline = {
      records: baselineIds.length,
      seconds: baselineSeconds,
      perSecond: baselineIds.length / baselineSeconds,
      qboCallsPerRecord: (q1.units - q0.units) / baselineIds.length,
      hlCallsPerRecord: (counter.hl() - h0) / baselineIds.length,
    };
    return {
      scenario2: {
        scenario: 2,
        name: 'CRM payments -> sales receipts',
        status: first.failed === 0 ? 'ok' : `ok (${first.failed} payments failed)`,
        records: first.records,
        seconds: round(first.seconds, 2),
        records_per_second: round(perSecond, 2),
        limit_factor: options.limitFactor,
        binding_limit: limit.binding,
        ceiling_per_second: round(limit.perSecond, 2),
        ratio_to_ceiling: round(perSecond / limit.perSecond),
        calls_per_record: round(steady.qboCalls / steady.records),
        qbo_calls_per_record_all: round(first.qboCalls / first.records),
        qbo_units_per_record_all: round(qboUnits),
        hl_calls_per_record_all: round(hlCalls),
        hl_calls_per_record_steady: round(steady.hlCalls / steady.records),
        steady_records: steady.records,
        steady_seconds: round(steady.seconds, 2),
        steady_ratio_to_ceiling: round(steady.records / steady.seconds / steadyLimit.perSecond),
        steady_binding_limit: steadyLimit.binding,
        throttled_429: first.throttled + steady.throttled,
        sql_per_record: round(first.sql / first.records, 1),
        cpu_ms_per_record: round((first.cpuSeconds * 1000) / first.records, 1),
        cpu_busy: round(first.cpuSeconds / first.seconds, 2),
        store: options.store,
        ratio_to_baseline: round(perSecond / baseline.perSecond, 2),
        baseline_records_per_second: round(baseline.perSecond, 2),
        targets: { ratio_to_ceiling: '>= 0.9', calls_per_record: '<= 1.2 QuickBooks calls per receipt (steady state)' },
      },
      baseline,
    };
  } finally {
    await stack.close();
  }
}
