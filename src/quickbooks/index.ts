// Public face of the QuickBooks Online client.
export * from './errors.ts';
export * from './limiter.ts';
export * from './http.ts';
export * from './query.ts';
export * from './entities.ts';
export * from './batch.ts';
export * from './cdc.ts';
export * from './client.ts';
export * from './oauth.ts';
export * from './webhooks.ts';
