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

-- Notifications sent about a connection that needs attention: one row per problem met, so that each is announced
-- once when it starts and once when it clears, whichever process notices and however often it restarts.
CREATE TABLE attention_notices (
  id bigserial PRIMARY KEY,
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  problem text NOT NULL,
  message text NOT NULL,
  opened_at timestamptz NOT NULL DEFAULT now(),
  opened_sent_at timestamptz,
  cleared_at timestamptz,
  cleared_sent_at timestamptz,
  -- A process sending this notice's message holds it until then (another may take it over after).
  claimed_until timestamptz
);
CREATE UNIQUE INDEX attention_notices_open ON attention_notices (connection_id, problem) WHERE cleared_at IS NULL;
