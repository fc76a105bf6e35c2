// What a flow works with for one connection: the store, the connection, and both providers' clients.
import type pino from 'pino';
import type { Db } from '../../store/db.ts';
import type { Connection } from '../../store/connections.ts';
import type { QuickBooksClient } from '../../quickbooks/client.ts';
import type { HighLevelClient } from '../../highlevel/client.ts';
import type { JobQueue } from './queue.ts';
import type { CompanyFacts } from '../services/company.ts';
import type { RateLimiter } from '../../store/rateLimits.ts';

export interface FlowContext {
  db: Db;
  connection: Connection;
  qbo: QuickBooksClient;
  hl: HighLevelClient;
  queue: JobQueue;
  log: pino.Logger;
  /** QuickBooks company facts cached per connection (country, currency, accounts, tax codes). */
  company: () => Promise<CompanyFacts>;
  /** QuickBooks item ids by item key, as linked (an item link never changes once made): kept per connection. */
  itemIds?: Map<string, string>;
  /**
   * The store's rate limiter, shared by every process, for work that paces itself below the providers' limits (the
   * history backfill's share, history.ts); absent when the engine runs without limits.
   */
  limiter?: RateLimiter;
}
