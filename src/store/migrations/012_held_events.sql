-- Events of a paused connection are kept ('held') with the job each one asks for, and that job is queued when the
-- connection is resumed (src/sync/intake.ts): HighLevel never sends a webhook again, and no poll finds every record
-- a webhook names (contact edits, invoice events, QuickBooks customers), so dropping them lost records.
ALTER TABLE inbox ADD COLUMN held_job jsonb;
CREATE INDEX inbox_held ON inbox (connection_id, id) WHERE status = 'held';
