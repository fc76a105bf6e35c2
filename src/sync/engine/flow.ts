// What a flow declares about itself, in the one file that also holds its code: its name, its jobs (queue, payload
// schema, handler, concurrency), the link kinds it owns, the provider events routed to its jobs, its periodic work
// and what reconciliation may ask of it. The engine, the webhook routing, reconciliation and the dashboard read
// these declarations from the registry (src/sync/flows/index.ts) instead of naming flows themselves.
// docs/adding-a-flow.md walks through adding one.
import { z } from 'zod';
import type { LinkKind } from '../../store/links.ts';
import type { LinkKindNames } from '../../store/recordNames.ts';
import type { FlowContext } from './context.ts';
import type { EnqueueOptions, JobContext, JobData, JobQueue } from './queue.ts';

/** The activity `flow` of the engine's periodic jobs (polls, sweeps, change data capture). */
export const POLLING_ACTIVITY = 'polling';
/** The activity `flow` of the webhook intake (events held, ignored or released). */
export const WEBHOOKS_ACTIVITY = 'webhooks';
/** The activity `flow` of a connection's lifecycle (connected, company switched, disconnected, app uninstalled). */
export const CONNECTION_ACTIVITY = 'connection';

/** The fields every job carries: its connection, and the record key that keeps a record's jobs one at a time. */
export const JOB_FIELDS = { connectionId: z.string().min(1), key: z.string().min(1) };

/** A job payload schema: the common fields plus the job's own; fields it does not name pass through untouched. */
export type PayloadSchema = z.ZodType<JobData, JobData>;

/** How a job names the CRM record of its activity entries (the dashboard links and groups by it). */
export interface CrmRef {
  crmKind: string;
  crmId: string;
}

/** The engine's settings a job's concurrency may follow. */
export interface ConcurrencySettings {
  /** Jobs at once per queue in this process (LEDGERLINK_CONCURRENCY). */
  concurrency: number;
  /** Payment jobs at once (LEDGERLINK_PAYMENT_CONCURRENCY), when set. */
  paymentConcurrency?: number | undefined;
}

export interface JobDeclaration<P extends PayloadSchema = PayloadSchema> {
  /** The queue's name; jobs already waiting under it survive restarts, so a queue keeps its name. */
  queue: string;
  /** The job's payload, checked where jobs are enqueued (JobQueue.enqueue) and again before the handler runs. */
  payload: P;
  run(ctx: FlowContext, data: z.output<P>, job: JobContext): Promise<unknown>;
  /** Jobs at once in this process; the engine's concurrency when absent. */
  concurrency?: (settings: ConcurrencySettings) => number;
  /** The record lease a job takes (JobQueue's QueueDefinition.recordLease); 'store' when absent. */
  recordLease?: 'store' | 'process';
  /**
   * A job the engine schedules itself for every connection (a poll or a sweep): its routine ends are debug lines,
   * and a paused or revoked connection skips it instead of recording it as stopped (the resume schedules it again).
   */
  periodic?: boolean;
  /** The activity `flow` of the job's entries and metrics when it is not the flow's own name. */
  activityFlow?: string;
  /** The CRM record the job's activity entries name. */
  crmRef?(data: z.output<P>): CrmRef | undefined;
  /** The record ids a job's log line names (its CRM record, or the QuickBooks record of a QuickBooks-side job). */
  logIds?(data: z.output<P>): Record<string, string | undefined>;
}

/** A provider event routed to one of a flow's jobs: the job, the record key (without connection) and the data. */
export interface EventRoute<J extends string = string> {
  job: J;
  key: string;
  data: Record<string, unknown>;
}

/** A HighLevel webhook of one kind (order, invoice, contact...), by its type and record. */
export type HighLevelEventRoute<J extends string = string> = (event: {
  type: string;
  recordId: string;
}) => EventRoute<J> | undefined;

/** A QuickBooks entity change (webhook or change data capture). */
export type QuickBooksEventRoute<J extends string = string> = (change: {
  entityId: string;
  operation: string;
}) => EventRoute<J> | undefined;

/** A poll or sweep the engine schedules for every live connection at every tick (Engine.enqueuePolls). */
export interface Schedule<J extends string = string> {
  job: J;
  /** The job's record key: one such job per connection waits at a time. */
  key: (connectionId: string) => string;
  /** Whether it is due now (absent: at every tick); `catchUp` (a resume or reconnect) makes it due regardless. */
  due?: (ctx: Pick<FlowContext, 'db' | 'connection'>, settings: { cdcPollSeconds: number }) => Promise<boolean>;
  /** Extra payload, given whether this is a catch-up after a resume or reconnect. */
  data?: (options: { catchUp: boolean }) => Record<string, unknown>;
}

/** Which side of a reconciliation difference a flow's job repairs: the record missing (or different) there. */
export interface Reconciles<J extends string = string> {
  /** The reconciliation kind (a group of the dashboard's reconciliation report). */
  kind: string;
  /** The side the job writes: differences there are re-synced by it. */
  writes: 'quickbooks' | 'crm';
  job: J;
}

/** The parts of a declaration that name its jobs: checked against the job names by defineFlow. */
export interface FlowWiring<J extends string = string> {
  /** Provider events routed to this flow's jobs (webhooks, and QuickBooks change data capture). */
  events?: {
    /** By HighLevel webhook kind (src/highlevel/webhooks.ts). */
    highlevel?: Record<string, HighLevelEventRoute<J>>;
    /** By QuickBooks entity name. */
    quickbooks?: Record<string, QuickBooksEventRoute<J>>;
  };
  /** Periodic jobs of this flow. */
  schedules?: readonly Schedule<J>[];
  /** The reconciliation differences this flow's jobs can repair. */
  reconciles?: readonly Reconciles<J>[];
}

export interface FlowDeclaration<
  N extends string = string,
  J extends Record<string, JobDeclaration<PayloadSchema>> = Record<string, JobDeclaration<PayloadSchema>>,
> extends FlowWiring {
  /** The flow's name: the `flow` of its activity entries and metrics, and of its QuickBooks request ids. */
  name: N;
  /** One sentence for people: what the flow brings from where to where. */
  summary: string;
  jobs: J;
  /**
   * The link kinds this flow writes, each with the QuickBooks entity and CRM record kinds it pairs and what people
   * call them (the activity's record names and its echo test read these). A kind written by several flows, like
   * customers from both sides, is declared once (a shared constant) and listed by each.
   */
  linkKinds: readonly LinkKindNames[];
  /** Schemas of the `data` of the links this flow writes, by kind (read through linkData). */
  linkData?: Partial<Record<LinkKind, z.ZodType>>;
  /**
   * A catch-up over what the provider's webhooks may have missed, run by the engine's sweep job of each connection
   * after the sweeps of the flows listed before it. `minIntervalMs` 0 asks for a sweep now whenever the last ran.
   */
  sweep?: (ctx: FlowContext, options: { minIntervalMs?: number }) => Promise<unknown>;
}

/** Declares a flow; its name and job names stay literal, and its events, schedules and reconciles name its jobs. */
export function defineFlow<const N extends string, const J extends Record<string, JobDeclaration<PayloadSchema>>>(
  declaration: Omit<FlowDeclaration<N, J>, keyof FlowWiring> & FlowWiring<keyof J & string>,
): FlowDeclaration<N, J> {
  return declaration;
}

/**
 * Every link kind the flows write, each once, in the flows' order (which orders the kinds an activity entry's record
 * is looked for under); a kind two flows declare differently stops the start.
 */
export function linkKindsOf(flows: readonly FlowDeclaration[]): LinkKindNames[] {
  const kinds = new Map<LinkKind, LinkKindNames>();
  for (const flow of flows)
    for (const declared of flow.linkKinds) {
      const known = kinds.get(declared.kind);
      if (known && JSON.stringify(known) !== JSON.stringify(declared))
        throw new Error(`link kind ${declared.kind} is declared differently by flow ${flow.name}`);
      kinds.set(declared.kind, known ?? declared);
    }
  return [...kinds.values()];
}

/** Declares one job; its handler's `data` is typed by its payload schema. */
export function defineJob<P extends PayloadSchema>(declaration: JobDeclaration<P>): JobDeclaration<P> {
  return declaration;
}

/** A payload schema: the common job fields plus `fields`; other fields pass through. */
export function payload<S extends z.ZodRawShape>(fields: S) {
  return z.looseObject({ ...JOB_FIELDS, ...fields });
}

/**
 * Enqueues one job of a flow, its payload typed by the job's schema (and checked by the queue). Resolves to the
 * job id, or null when a job of the same record is already waiting.
 */
export function enqueue<P extends PayloadSchema>(
  queue: JobQueue,
  job: JobDeclaration<P>,
  data: z.input<P>,
  options?: EnqueueOptions,
): Promise<string | null> {
  return queue.enqueue(job.queue, data, options);
}

/** The `data` of a link read through its flow's schema; undefined when it does not fit (a link older than it). */
export function linkData<S extends z.ZodType>(schema: S, data: unknown): z.output<S> | undefined {
  const parsed = schema.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}

/** A sentence naming what a payload lacks, for the activity entry of a job whose data does not fit. */
export function payloadProblem(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'payload'}: ${issue.message}`)
    .join('; ');
}
