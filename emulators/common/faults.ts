// Fault injection shared by both emulators: per-endpoint error rates, latency, dropped connections, writes that
// commit but lose their answer, and webhook faults (duplicated, reordered, dropped). Decisions come from a seeded
// generator so that a chaos run can be replayed.
import { z } from 'zod';
import { seededRandom } from './random.ts';

export const faultKinds = ['error429', 'error500', 'error503', 'latency', 'drop', 'loseAnswer', 'revokeToken'] as const;
export type FaultKind = (typeof faultKinds)[number];

export const faultRuleSchema = z.object({
  kind: z.enum(faultKinds),
  /** Probability in [0, 1] that a matching request gets this fault. */
  rate: z.number().min(0).max(1),
  /** Only requests with this HTTP method (case-insensitive). */
  method: z.string().min(1).optional(),
  /** Only requests whose path contains this text. */
  path: z.string().min(1).optional(),
  /** Added delay for 'latency' (real milliseconds). */
  latencyMs: z.number().int().min(0).max(120_000).optional(),
  /** How many times the rule may fire before it retires; absent means unlimited. */
  count: z.number().int().min(1).optional(),
});
export type FaultRule = z.infer<typeof faultRuleSchema>;

export const webhookFaultsSchema = z.object({
  duplicate: z.number().min(0).max(1).default(0),
  reorder: z.number().min(0).max(1).default(0),
  drop: z.number().min(0).max(1).default(0),
});
export type WebhookFaults = z.infer<typeof webhookFaultsSchema>;

export const faultConfigSchema = z.object({
  seed: z.number().int().optional(),
  rules: z.array(faultRuleSchema).default([]),
  webhooks: webhookFaultsSchema.partial().optional(),
});
export type FaultConfig = z.infer<typeof faultConfigSchema>;

/** Parses an admin API body; throws a ZodError with every problem listed. */
export function parseFaultConfig(input: unknown): FaultConfig {
  return faultConfigSchema.parse(input);
}

export type WebhookFaultKind = 'duplicate' | 'reorder' | 'drop';

export class FaultInjector {
  private rules: FaultRule[] = [];
  private webhookFaults: WebhookFaults = { duplicate: 0, reorder: 0, drop: 0 };
  private random: () => number;
  private readonly counts = new Map<string, number>();

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  /** Replaces the whole configuration (rules and webhook faults); a seed restarts the random sequence. */
  configure(config: FaultConfig): void {
    if (config.seed !== undefined) this.random = seededRandom(config.seed);
    this.rules = config.rules.map((rule) => ({ ...rule }));
    this.webhookFaults = { duplicate: 0, reorder: 0, drop: 0, ...config.webhooks };
  }

  addRule(rule: FaultRule): void {
    this.rules.push({ ...rule });
  }

  clear(): void {
    this.rules = [];
    this.webhookFaults = { duplicate: 0, reorder: 0, drop: 0 };
  }

  config(): { rules: FaultRule[]; webhooks: WebhookFaults } {
    return { rules: this.rules.map((r) => ({ ...r })), webhooks: { ...this.webhookFaults } };
  }

  /** The fault for this request, if any: the first matching rule whose dice roll fires. */
  pick(method: string, path: string): FaultRule | undefined {
    for (const rule of this.rules) {
      if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (rule.path && !path.includes(rule.path)) continue;
      if (rule.count !== undefined && rule.count <= 0) continue;
      if (this.random() >= rule.rate) continue;
      if (rule.count !== undefined) rule.count -= 1;
      this.record(rule.kind);
      return rule;
    }
    return undefined;
  }

  /** What happens to one webhook delivery: at most one fault, drop checked first. */
  pickWebhookFault(): WebhookFaultKind | undefined {
    const { drop, duplicate, reorder } = this.webhookFaults;
    for (const [kind, rate] of [
      ['drop', drop],
      ['duplicate', duplicate],
      ['reorder', reorder],
    ] as const) {
      if (rate > 0 && this.random() < rate) {
        this.record(`webhook.${kind}`);
        return kind;
      }
    }
    return undefined;
  }

  /** Counts of injected faults by kind (webhook faults as `webhook.<kind>`). */
  stats(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  totalInjected(): number {
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  private record(kind: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }
}
