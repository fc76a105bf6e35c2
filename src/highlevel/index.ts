// Public face of the HighLevel client.
export * from './errors.ts';
export * from './limiter.ts';
export * from './http.ts';
export * from './money.ts';
export * from './oauth.ts';
export * from './contacts.ts';
export * from './invoices.ts';
export * from './payments.ts';
export * from './locations.ts';
export * from './workflows.ts';
export * from './products.ts';
export * from './conversations.ts';
export * from './customFields.ts';
export * from './webhooks.ts';
export * from './client.ts';
