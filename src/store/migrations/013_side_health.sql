-- A provider that keeps failing is visible while its records wait for their next try, not only once a job gives
-- up: each side of a connection has a health row (failing since when, the last failure), and each record whose job
-- failed on a provider and will be tried again has a waiting row (which side, when its next try is).

CREATE TABLE side_health (
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  side text NOT NULL CHECK (side IN ('quickbooks', 'highlevel')),
  -- Null while the side answers; set by the first failure of an outage, kept through its records' retries.
  failing_since timestamptz,
  last_failure_at timestamptz,
  -- What the provider said last (status, code, message): never a token or a request body.
  last_error text,
  -- Records whose jobs ran out of tries during this outage (open errors with a Retry button).
  gave_up integer NOT NULL DEFAULT 0,
  -- When the activity said the side is failing (once a record waits on it); cleared with the failure.
  announced_at timestamptz,
  recovered_at timestamptz,
  PRIMARY KEY (connection_id, side)
);

CREATE TABLE waiting_records (
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  -- The job's record key (one job per record at a time, src/sync/queue.ts).
  record_key text NOT NULL,
  side text NOT NULL CHECK (side IN ('quickbooks', 'highlevel')),
  queue text NOT NULL,
  -- A poll or sweep waits too, but is not one of the connection's records.
  periodic boolean NOT NULL DEFAULT false,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  last_failed_at timestamptz NOT NULL DEFAULT now(),
  failures integer NOT NULL DEFAULT 1,
  next_try_at timestamptz,
  PRIMARY KEY (connection_id, record_key)
);

-- Notices about a connection that needs attention: one row per problem met (a side failing beyond the alert
-- threshold, a refused authorization), announced once on each channel when it starts and once when it clears,
-- whichever process notices and however often it restarts.
CREATE TABLE attention_notices (
  id bigserial PRIMARY KEY,
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  problem text NOT NULL,
  opened_at timestamptz NOT NULL DEFAULT now(),
  -- {subject, text} of the notice sent when the problem starts, and of the one sent when it clears.
  opened jsonb NOT NULL,
  cleared_at timestamptz,
  cleared jsonb,
  -- "open:<channel>" and "clear:<channel>" -> when that notice went out on that channel.
  deliveries jsonb NOT NULL DEFAULT '{}',
  -- Cleared, and nothing left to send.
  finished boolean NOT NULL DEFAULT false,
  -- A process sending this row's notices holds it until then (another may take over after).
  claimed_until timestamptz
);
CREATE UNIQUE INDEX attention_notices_open ON attention_notices (connection_id, problem) WHERE cleared_at IS NULL;
CREATE INDEX attention_notices_unfinished ON attention_notices (id) WHERE NOT finished;
