-- Provider rate limits shared by every process: a GCRA schedule per key (QuickBooks realm, HighLevel location)
-- and leased concurrency slots that expire when a worker dies holding one.

CREATE TABLE rate_schedules (
  key text PRIMARY KEY,
  tat timestamptz NOT NULL
);

CREATE TABLE rate_slots (
  key text NOT NULL,
  slot integer NOT NULL,
  holder text,
  expires_at timestamptz,
  PRIMARY KEY (key, slot)
);
