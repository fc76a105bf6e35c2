import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmulatorClock } from '../../../emulators/common/clock.ts';
import { FaultInjector, parseFaultConfig } from '../../../emulators/common/faults.ts';
import { ConcurrencyLimiter, WindowLimiter } from '../../../emulators/common/ratelimit.ts';
import { WebhookDispatcher } from '../../../emulators/common/webhooks.ts';

async function receiver(statuses: number[]) {
  const bodies: string[] = [];
  let call = 0;
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      bodies.push(body);
      res.statusCode = statuses[Math.min(call++, statuses.length - 1)]!;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, bodies, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('emulator kit', () => {
  it('limits requests per key within a window and opens the next window', () => {
    const clock = new EmulatorClock();
    const limiter = new WindowLimiter({ limit: 3, windowMs: 60_000, clock });
    assert.deepEqual(
      [1, 2, 3, 4].map(() => limiter.take('realm').allowed),
      [true, true, true, false],
    );
    assert.equal(limiter.take('other').allowed, true, 'keys are independent');
    clock.advance(60_000);
    assert.equal(limiter.take('realm').allowed, true);
  });

  it('caps requests in flight per key', () => {
    const limiter = new ConcurrencyLimiter(2);
    assert.equal(limiter.acquire('r'), true);
    assert.equal(limiter.acquire('r'), true);
    assert.equal(limiter.acquire('r'), false);
    limiter.release('r');
    assert.equal(limiter.acquire('r'), true);
  });

  it('injects the same faults for the same seed, only on matching requests, and counts them', () => {
    const config = parseFaultConfig({ seed: 7, rules: [{ kind: 'error503', rate: 0.5, path: '/invoice' }] });
    const run = () => {
      const faults = new FaultInjector();
      faults.configure(config);
      return Array.from({ length: 40 }, () => faults.pick('POST', '/v3/company/1/invoice')?.kind ?? '-').join('');
    };
    assert.equal(run(), run());
    assert.match(run(), /error503/);
    const faults = new FaultInjector();
    faults.configure(config);
    assert.equal(faults.pick('GET', '/v3/company/1/customer/1'), undefined);
    assert.throws(() => parseFaultConfig({ rules: [{ kind: 'error999', rate: 2 }] }));
  });

  it('retires a rule after its count', () => {
    const faults = new FaultInjector();
    faults.configure(parseFaultConfig({ rules: [{ kind: 'drop', rate: 1, count: 2 }] }));
    assert.deepEqual(
      [1, 2, 3].map(() => faults.pick('GET', '/x')?.kind),
      ['drop', 'drop', undefined],
    );
    assert.equal(faults.stats().drop, 2);
  });

  it('retries a webhook by the policy and schedule, then delivers it', async () => {
    const hook = await receiver([500, 500, 200]);
    const clock = new EmulatorClock({ factor: 1000 });
    const dispatcher = new WebhookDispatcher({
      clock,
      faults: new FaultInjector(),
      retryScheduleMs: [10_000, 20_000],
      shouldRetry: (s) => s !== 200,
    });
    const record = dispatcher.send({ url: hook.url, headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    await dispatcher.flush();
    assert.equal(record.state, 'delivered');
    assert.deepEqual(
      record.attempts.map((a) => a.status),
      [500, 500, 200],
    );
    assert.equal(hook.bodies.length, 3);
    await hook.close();
  });

  it('gives up when the policy says so (HighLevel does not retry a 500)', async () => {
    const hook = await receiver([500]);
    const dispatcher = new WebhookDispatcher({
      clock: new EmulatorClock(),
      faults: new FaultInjector(),
      retryScheduleMs: [1],
      shouldRetry: (s) => s === 429,
    });
    const record = dispatcher.send({ url: hook.url, headers: {}, body: 'x' });
    await dispatcher.flush();
    assert.equal(record.state, 'failed');
    assert.equal(hook.bodies.length, 1);
    await hook.close();
  });

  it('drops, duplicates and reorders deliveries when told to', async () => {
    const hook = await receiver([200]);
    const clock = new EmulatorClock({ factor: 1000 });
    const faults = new FaultInjector();
    const dispatcher = new WebhookDispatcher({ clock, faults, retryScheduleMs: [], shouldRetry: () => false });
    faults.configure(parseFaultConfig({ webhooks: { drop: 1 } }));
    assert.equal(dispatcher.send({ url: hook.url, headers: {}, body: 'lost' }).state, 'dropped');
    faults.configure(parseFaultConfig({ webhooks: { duplicate: 1 } }));
    dispatcher.send({ url: hook.url, headers: {}, body: 'twice' });
    await dispatcher.flush();
    faults.configure(parseFaultConfig({ webhooks: { reorder: 1 } }));
    dispatcher.send({ url: hook.url, headers: {}, body: 'first' });
    faults.configure(parseFaultConfig({}));
    dispatcher.send({ url: hook.url, headers: {}, body: 'second' });
    await dispatcher.flush();
    assert.deepEqual(hook.bodies, ['twice', 'twice', 'second', 'first']);
    await hook.close();
  });
});
