// Which flow's job handles which provider event: a table built from the flows' declarations (their `events`).
// Webhook bodies are hints: each job re-reads the record it names. Events no flow lists are recorded and ignored.
import { FLOWS } from '../flows/index.ts';
import type { FlowDeclaration, HighLevelEventRoute, QuickBooksEventRoute } from './flow.ts';

export { QUEUES, type QueueName } from './queues.ts';

export interface Route {
  queue: string;
  key: string;
  data: Record<string, unknown>;
}

interface Routed<R> {
  flow: FlowDeclaration;
  route: R;
}

/** One table per provider, by event kind; an event kind routed by two flows is a mistake caught at start. */
function table<R>(pick: (flow: FlowDeclaration) => Record<string, R> | undefined): ReadonlyMap<string, Routed<R>> {
  const routes = new Map<string, Routed<R>>();
  for (const flow of FLOWS as readonly FlowDeclaration[]) {
    for (const [kind, route] of Object.entries(pick(flow) ?? {})) {
      const taken = routes.get(kind);
      if (taken) throw new Error(`event ${kind} is routed by both the ${taken.flow.name} and ${flow.name} flows`);
      routes.set(kind, { flow, route });
    }
  }
  return routes;
}

const HIGHLEVEL_ROUTES = table<HighLevelEventRoute>((flow) => flow.events?.highlevel);
const QUICKBOOKS_ROUTES = table<QuickBooksEventRoute>((flow) => flow.events?.quickbooks);

function toRoute(flow: FlowDeclaration, routed: { job: string; key: string; data: Record<string, unknown> }): Route {
  const job = flow.jobs[routed.job];
  if (!job) throw new Error(`the ${flow.name} flow routes an event to ${routed.job}, which it does not declare`);
  return { queue: job.queue, key: routed.key, data: routed.data };
}

/** HighLevel webhook -> job, by what the event concerns (src/highlevel/webhooks.ts names the kinds). */
export function routeHighLevelEvent(kind: string, type: string, recordId: string | undefined): Route | undefined {
  if (!recordId) return undefined;
  const entry = HIGHLEVEL_ROUTES.get(kind);
  const routed = entry?.route({ type, recordId });
  return entry && routed ? toRoute(entry.flow, routed) : undefined;
}

/** QuickBooks entity change (webhook or change data capture) -> job. */
export function routeQuickBooksEvent(entity: string, entityId: string, operation: string): Route | undefined {
  const entry = QUICKBOOKS_ROUTES.get(entity);
  const routed = entry?.route({ entityId, operation });
  return entry && routed ? toRoute(entry.flow, routed) : undefined;
}

/** The event kinds each provider's routing knows, for tests and the registry's checks. */
export const ROUTED_EVENTS = {
  highlevel: [...HIGHLEVEL_ROUTES.keys()],
  quickbooks: [...QUICKBOOKS_ROUTES.keys()],
} as const;
