// Optional persistence to one JSON file: loaded at start, saved after changes (debounced) and on close.
// The file is written to a temporary name and renamed, so a crash never leaves half a file behind.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { CompanySnapshot } from './company.ts';
import type { OAuthSnapshot } from './oauth.ts';
import type { WebhookSubscription } from './webhooks.ts';

export interface EmulatorSnapshot {
  version: 1;
  savedAt: string;
  companies: CompanySnapshot[];
  oauth: OAuthSnapshot;
  webhooks: WebhookSubscription[];
}

export function loadSnapshot(file: string): EmulatorSnapshot | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as EmulatorSnapshot;
  if (parsed.version !== 1) throw new Error(`${file}: unsupported emulator data version ${String(parsed.version)}`);
  return parsed;
}

export class SnapshotWriter {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => EmulatorSnapshot,
    private readonly debounceMs = 250,
  ) {}

  markDirty(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.saveNow(), this.debounceMs);
    this.timer.unref();
  }

  saveNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.snapshot()));
    renameSync(tmp, this.file);
  }
}
