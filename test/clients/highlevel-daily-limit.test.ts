// HighLevel's daily limit in the client: the limiter hears X-RateLimit-Daily-* from every answer, refuses locally
// once none is left, and lets one request probe after the wait. Unit cases with a fake clock, then over HTTP against
// the emulator, whose daily counter is set through its admin API.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHighLevelEmulator, type HighLevelEmulator } from '../../emulators/highlevel/index.ts';
import { HighLevelClient } from '../../src/highlevel/client.ts';
import { HighLevelError } from '../../src/highlevel/errors.ts';
import { DailyLimitedLimiter, type RateLimiter, type RateLimitSnapshot } from '../../src/highlevel/limiter.ts';

const HOUR = 3_600_000;
const LOCATION = 'loc-daily';

/** The burst limiter underneath: lets everything through and counts what it was asked for. */
class CountingLimiter implements RateLimiter {
  acquired: string[] = [];
  async acquire(key: string): Promise<() => void> {
    this.acquired.push(key);
    return () => {};
  }
}

const answer = (observedAt: number, daily: { remaining?: number; limit?: number }): RateLimitSnapshot => ({
  dailyLimit: daily.limit,
  dailyRemaining: daily.remaining,
  intervalMs: 10_000,
  max: 100,
  remaining: 99,
  observedAt,
});

const isDailyLimit = (e: unknown) => e instanceof HighLevelError && e.status === 429 && e.code === 'daily_limit';

describe('DailyLimitedLimiter', () => {
  it('keeps the last daily budget each location reported, also across answers without the headers', () => {
    const limiter = new DailyLimitedLimiter(new CountingLimiter(), { now: () => 1_000 });
    assert.equal(limiter.dailyBudget(LOCATION), undefined);
    limiter.observe(LOCATION, answer(1_000, { remaining: 150_000, limit: 200_000 }));
    limiter.observe('other-location', answer(1_000, { remaining: 7, limit: 200_000 }));
    limiter.observe(LOCATION, answer(2_000, {}));
    assert.deepEqual(limiter.dailyBudget(LOCATION), { limit: 200_000, remaining: 150_000, observedAt: 2_000 });
    assert.equal(limiter.dailyBudget('other-location')?.remaining, 7);
  });

  it('refuses without a call once none is left, lets one request probe after an hour, and opens when the budget is back', async () => {
    let now = 10_000;
    const burst = new CountingLimiter();
    const limiter = new DailyLimitedLimiter(burst, { now: () => now });
    await limiter.acquire(LOCATION);
    limiter.observe(LOCATION, answer(now, { remaining: 0, limit: 200_000 }));

    now += 59 * 60_000;
    await assert.rejects(
      limiter.acquire(LOCATION),
      (e: unknown) => isDailyLimit(e) && (e as HighLevelError).retryAfterMs === 60_000,
    );
    assert.equal(burst.acquired.length, 1, 'the refused request never reached the burst limiter');
    await limiter.acquire('other-location'); // other locations are not held back
    assert.equal(burst.acquired.length, 2);

    now += 60_000;
    await limiter.acquire(LOCATION); // the probe
    await assert.rejects(
      limiter.acquire(LOCATION),
      isDailyLimit,
      'one probe at a time: the others wait for its answer',
    );
    limiter.observe(LOCATION, answer(now, { remaining: 0, limit: 200_000 }));
    now += HOUR - 1;
    await assert.rejects(limiter.acquire(LOCATION), isDailyLimit, 'still spent: another hour');

    now += 1;
    await limiter.acquire(LOCATION); // the next probe finds the budget reset
    limiter.observe(LOCATION, answer(now, { remaining: 199_999, limit: 200_000 }));
    await limiter.acquire(LOCATION);
    await limiter.acquire(LOCATION);
    assert.equal(burst.acquired.filter((k) => k === LOCATION).length, 5);
  });
});

describe('the daily limit over HTTP against the emulator', () => {
  let emu: HighLevelEmulator;
  let locationId: string;

  const setRemaining = async (remaining: number) => {
    const response = await fetch(`${emu.url}/_emulator/rate-limits/daily`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ locationId, remaining }),
    });
    assert.equal(response.status, 200, await response.text());
  };
  const clientWith = (limiter: DailyLimitedLimiter) => {
    const token = emu.mintToken(locationId).access_token;
    return new HighLevelClient({
      baseUrl: emu.url,
      locationId,
      limiter,
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
      tokens: { accessToken: async () => token, refreshAfterUnauthorized: async () => token },
    });
  };

  before(async () => {
    emu = await startHighLevelEmulator({ port: 0 });
    locationId = emu.createLocation({ country: 'US' }).id;
  });
  after(async () => {
    await emu.close();
  });

  it('sends nothing more once HighLevel reports the last request of the day spent', async () => {
    await setRemaining(2);
    const limiter = new DailyLimitedLimiter(new CountingLimiter());
    const hl = clientWith(limiter);
    await hl.locations.get(locationId);
    assert.deepEqual(
      { ...limiter.dailyBudget(locationId), observedAt: 0 },
      { limit: 200_000, remaining: 1, observedAt: 0 },
    );
    await hl.locations.get(locationId);
    assert.equal(hl.dailyBudget()?.remaining, 0);
    const sent = emu.core.apiRequestCount;
    await assert.rejects(hl.locations.get(locationId), isDailyLimit);
    await assert.rejects(hl.contacts.search({ pageLimit: 1 }), isDailyLimit);
    assert.equal(emu.core.apiRequestCount, sent, 'no request reached HighLevel');
  });

  it("takes HighLevel's own 429 at 0 left for the daily limit: not retried, and the next request stays here", async () => {
    await setRemaining(0);
    const hl = clientWith(new DailyLimitedLimiter(new CountingLimiter()));
    const sent = emu.core.apiRequestCount;
    await assert.rejects(hl.locations.get(locationId), isDailyLimit);
    assert.equal(emu.core.apiRequestCount, sent + 1, 'one request, no retries against a spent budget');
    await assert.rejects(hl.locations.get(locationId), isDailyLimit);
    assert.equal(emu.core.apiRequestCount, sent + 1);
  });
});
