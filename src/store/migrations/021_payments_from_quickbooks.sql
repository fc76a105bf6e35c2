-- Payments recorded in QuickBooks against invoices ledgerlink created from CRM invoices are recorded on the CRM
-- invoice (src/sync/flows/qboPayments.ts). On for connections made from now on; the connections that exist keep
-- what they do today until someone turns it on from the card.
ALTER TABLE connections ADD COLUMN payments_from_quickbooks boolean NOT NULL DEFAULT false;
ALTER TABLE connections ALTER COLUMN payments_from_quickbooks SET DEFAULT true;
