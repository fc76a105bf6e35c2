-- Jobs for the same record run one at a time across every worker process: a job holds a lease on its record
-- key while it runs. A lease left by a killed worker expires, and the record's next job may run.
CREATE TABLE record_leases (
  key text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);
