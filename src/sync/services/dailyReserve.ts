// HighLevel allows each app 200,000 requests a day per location (reference §6), shared by every flow. The bulk flows
// (the customer import, the import of old invoices) stop while less than a tenth of it is left, so that the rest
// serves live work: payments and invoices from webhooks, and the payment poll, whose finds (subscription renewals,
// refunds) have no webhook to bring them. A stop is recorded once, as information, and the flow comes back by itself.
import { recordActivity } from '../../store/activity.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import type { FlowContext } from '../engine/context.ts';
import { RetryLater } from '../engine/errors.ts';

/** The share of a location's daily budget that bulk flows leave for live work. */
export const LIVE_RESERVE = 0.1;
/** How long a stopped bulk flow waits before it looks again, and a job refused for the daily limit before it retries. */
export const DAILY_BUDGET_RETRY_SECONDS = 15 * 60;
/**
 * A budget heard longer ago than this does not hold a flow back (its next page learns it again): otherwise a process
 * that makes no other HighLevel call would never hear that the budget came back.
 */
const TRUSTED_FOR_MS = 60 * 60_000;

type ReserveStop = { stoppedAt: string; remaining: number; limit: number } | { stoppedAt: null };

/**
 * Called by a bulk flow before each page. While the location's daily budget is below the reserve it throws
 * RetryLater (the engine puts the job back for later), recording the stop once; once HighLevel reports the budget
 * back, the stop is cleared, so that a later one is recorded again.
 */
export async function keepDailyReserve(ctx: FlowContext, flow: string, what: string): Promise<void> {
  const budget = ctx.hl.dailyBudget();
  if (!budget || Date.now() - budget.observedAt >= TRUSTED_FOR_MS) return;
  const name = `daily-reserve:${flow}`;
  const stop = await readCursor<ReserveStop>(ctx.db, ctx.connection.id, name);
  const reserve = Math.ceil(budget.limit * LIVE_RESERVE);
  if (budget.remaining >= reserve) {
    if (stop?.stoppedAt) await writeCursor(ctx.db, ctx.connection.id, name, { stoppedAt: null } satisfies ReserveStop);
    return;
  }
  const location = ctx.hl.locationId;
  if (!stop?.stoppedAt) {
    await writeCursor(ctx.db, ctx.connection.id, name, {
      stoppedAt: new Date().toISOString(),
      remaining: budget.remaining,
      limit: budget.limit,
    } satisfies ReserveStop);
    await recordActivity(ctx.db, {
      connectionId: ctx.connection.id,
      flow,
      status: 'info',
      message: `${what} is paused: HighLevel location ${location} has ${budget.remaining} of its ${budget.limit} daily requests left, and the last ${reserve} are kept for live payments and invoices. It resumes by itself once HighLevel's daily budget is back (looked at every ${DAILY_BUDGET_RETRY_SECONDS / 60} minutes); nothing needs doing`,
      detail: {
        code: 'daily-reserve',
        locationId: location,
        remaining: budget.remaining,
        limit: budget.limit,
        reserve,
      },
    });
  }
  throw new RetryLater(
    `${what} waits for HighLevel's daily budget of location ${location} (${budget.remaining} left)`,
    DAILY_BUDGET_RETRY_SECONDS,
  );
}
