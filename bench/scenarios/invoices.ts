// Scenario 3 placeholder (filled below once wired).
import type { ScenarioResult } from '../support.ts';
export async function runInvoices(options: { invoices: number; store: 'pglite' | 'postgres'; log: (line: string) => void }): Promise<ScenarioResult> {
  return { scenario: 3, name: 'Invoices through their life', status: 'blocked: not wired yet', records: 0, seconds: 0, requested: options.invoices };
}
