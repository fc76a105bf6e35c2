// The request core shared by both provider clients, with a small provider of its own against a scripted server:
// what the core decides (attempts, waits, limiter slots, one refresh, what the metrics hear) and what it leaves to
// the provider's rules (what an answer means, which failure may be tried again).
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { HttpCore, type ProviderFailure, type ProviderRules, type RateLimiter } from '../../src/http/core.ts';
import {
  CountingTokens,
  recordingSleep,
  startScriptedServer,
  type Script,
  type ScriptedServer,
} from './scriptedServer.ts';

class ToyError extends Error implements ProviderFailure {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs: number | undefined = undefined,
  ) {
    super(message);
  }
}

const toyRules: ProviderRules<ToyError> = {
  name: 'toy',
  limiterKey: 'key-1',
  logFields: { toy: true },
  read: (answer) =>
    answer.ok
      ? { ok: true, body: answer.json }
      : {
          ok: false,
          error: new ToyError(
            `HTTP ${answer.status}`,
            answer.status,
            answer.headers.get('retry-after') === null ? undefined : Number(answer.headers.get('retry-after')) * 1000,
          ),
        },
  noAnswer: ({ timedOut }) => new ToyError(timedOut ? 'timeout' : 'network', 0),
  unexpectedBody: ({ path, issues }) => new ToyError(`unexpected body from ${path}: ${issues}`, 200),
  tokenRejected: (error) => error.status === 401,
  retryable: (error, { answered, idempotent }) =>
    error.status === 429 || (idempotent && (!answered || error.status >= 500)),
};

/** Counts slots taken and given back. */
class CountingLimiter implements RateLimiter {
  acquired = 0;
  released = 0;
  async acquire(key: string): Promise<() => void> {
    assert.equal(key, 'key-1');
    this.acquired += 1;
    return () => {
      this.released += 1;
    };
  }
}

const schema = z.object({ value: z.number() });

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function coreFor(script: Script, options: { maxAttempts?: number; timeoutMs?: number } = {}) {
  server = await startScriptedServer(script);
  const tokens = new CountingTokens();
  const limiter = new CountingLimiter();
  const sleeper = recordingSleep();
  const calls: Array<{ status: number; retrying: boolean }> = [];
  const core = new HttpCore(
    {
      tokens,
      limiter,
      retry: { maxAttempts: options.maxAttempts ?? 4, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 },
      timeoutMs: options.timeoutMs ?? 5000,
      sleep: sleeper.sleep,
      random: () => 1,
      onCall: ({ status, retrying }) => calls.push({ status, retrying }),
    },
    toyRules,
  );
  const url = new URL(`${server.url}/thing`);
  const send = (extra: { idempotent?: boolean; signal?: AbortSignal } = {}) =>
    core.send({
      method: 'POST',
      url,
      path: '/thing',
      schema,
      idempotent: extra.idempotent ?? true,
      signal: extra.signal,
    });
  return { send, tokens, limiter, calls, delays: sleeper.delays, requests: server.requests };
}

describe('HTTP core', () => {
  it('takes a limiter slot for each attempt, gives it back, backs off with full jitter and reports every attempt', async () => {
    const { send, limiter, calls, delays, requests } = await coreFor((_, i) =>
      i < 2 ? { status: 503 } : { status: 200, body: { value: 7 } },
    );
    const { data, answer } = await send();
    assert.deepEqual(data, { value: 7 });
    assert.equal(answer.status, 200);
    assert.equal(requests.length, 3);
    assert.deepEqual([limiter.acquired, limiter.released], [3, 3]);
    assert.deepEqual(delays, [100, 200], 'random() = 1 gives the whole window: 100 * 2^attempt');
    assert.deepEqual(calls, [
      { status: 503, retrying: true },
      { status: 503, retrying: true },
      { status: 200, retrying: false },
    ]);
    for (const r of requests) {
      assert.equal(r.headers.authorization, 'Bearer token-1');
      assert.equal(r.headers.accept, 'application/json');
    }
  });

  it('leaves the retry decision to the provider: a non-idempotent call fails at the first 5xx', async () => {
    const { send, calls, requests } = await coreFor(() => ({ status: 500 }));
    await assert.rejects(send({ idempotent: false }), (e: unknown) => e instanceof ToyError && e.status === 500);
    assert.equal(requests.length, 1);
    assert.deepEqual(calls, [{ status: 500, retrying: false }]);
  });

  it('waits the Retry-After the provider read, and does not sleep through one longer than allowed', async () => {
    const short = await coreFor((_, i) =>
      i === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200, body: { value: 1 } },
    );
    await short.send();
    assert.deepEqual(short.delays, [2000]);
    await server?.close();

    const long = await coreFor(() => ({ status: 429, headers: { 'retry-after': '60' } }));
    await assert.rejects(long.send(), (e: unknown) => e instanceof ToyError && e.retryAfterMs === 60_000);
    assert.equal(long.requests.length, 1);
    assert.deepEqual(long.delays, []);
  });

  it('refreshes the token once when the provider says a new one cures the refusal', async () => {
    const { send, tokens, requests, calls } = await coreFor(() => ({ status: 401 }));
    await assert.rejects(send(), (e: unknown) => e instanceof ToyError && e.status === 401);
    assert.equal(tokens.refreshes, 1);
    assert.deepEqual(
      requests.map((r) => r.headers.authorization),
      ['Bearer token-1', 'Bearer token-2'],
    );
    assert.deepEqual(calls, [
      { status: 401, retrying: true },
      { status: 401, retrying: false },
    ]);
  });

  it('hands a timeout to the provider as no answer (status 0) and gives up after the last attempt', async () => {
    const { send, requests, calls, limiter } = await coreFor(
      () => ({ status: 200, delayMs: 300, body: { value: 1 } }),
      {
        maxAttempts: 2,
        timeoutMs: 50,
      },
    );
    await assert.rejects(send(), (e: unknown) => e instanceof ToyError && e.message === 'timeout' && e.status === 0);
    assert.equal(requests.length, 2);
    assert.deepEqual(calls, [
      { status: 0, retrying: true },
      { status: 0, retrying: false },
    ]);
    assert.equal(limiter.released, 2, 'a slot is given back also when no answer came');
  });

  it("throws the caller's own abort as it is, without trying again", async () => {
    const { send, requests } = await coreFor(() => ({ status: 200, delayMs: 300, body: { value: 1 } }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller gave up')), 30);
    await assert.rejects(send({ signal: controller.signal }), (e: unknown) => !(e instanceof ToyError));
    assert.equal(requests.length, 1);
  });

  it('checks the body against the call schema and lets the provider word the mismatch', async () => {
    const { send } = await coreFor(() => ({ status: 200, body: { value: 'seven' } }));
    await assert.rejects(
      send(),
      (e: unknown) => e instanceof ToyError && /^unexpected body from \/thing: value: /.test(e.message),
    );
  });
});
