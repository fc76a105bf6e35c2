import type { ScenarioResult } from '../support.ts';
export async function runLatency(options: { rate: number; seconds: number; store: 'pglite' | 'postgres'; log: (line: string) => void }): Promise<ScenarioResult> {
  return { scenario: 4, name: 'latency', status: 'todo', records: 0, seconds: options.seconds };
}
