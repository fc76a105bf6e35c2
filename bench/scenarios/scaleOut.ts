import type { ScenarioResult } from '../support.ts';
export async function runScaleOut(options: { connections: number; perConnection: number; workers: number[]; log: (line: string) => void }): Promise<ScenarioResult> {
  return { scenario: 6, name: 'scale', status: 'todo', records: options.connections, seconds: 0 };
}
