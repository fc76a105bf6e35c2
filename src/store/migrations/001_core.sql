-- The core of the store: connections and the per-connection sync state. Every row below connections carries
-- connection_id; nothing crosses connections.

CREATE TABLE connections (
  id text PRIMARY KEY,
  name text NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  status_reason text,
  qbo_realm_id text,
  qbo_country text,
  qbo_home_currency text,
  qbo_tokens bytea,
  qbo_access_expires_at timestamptz,
  qbo_refresh_expires_at timestamptz,
  hl_location_id text,
  hl_company_id text,
  hl_country text,
  hl_tokens bytea,
  hl_access_expires_at timestamptz,
  connected_at timestamptz,
  import_old_invoices boolean NOT NULL DEFAULT false,
  review_requests boolean NOT NULL DEFAULT false,
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX connections_realm_location ON connections (qbo_realm_id, hl_location_id);
CREATE INDEX connections_location ON connections (hl_location_id);
CREATE INDEX connections_realm ON connections (qbo_realm_id);

-- One row per record known on both sides (or being created: state 'pending' guards a create that has no
-- idempotency key on the target side).
CREATE TABLE links (
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  kind text NOT NULL,
  crm_id text NOT NULL,
  qbo_id text,
  origin text NOT NULL,
  state text NOT NULL DEFAULT 'linked',
  snapshot_hash text,
  qbo_sync_token text,
  qbo_updated_at text,
  crm_updated_at text,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, kind, crm_id)
);
CREATE UNIQUE INDEX links_qbo_side ON links (connection_id, kind, qbo_id) WHERE qbo_id IS NOT NULL;

-- Every accepted event, durable before it is acknowledged; duplicates collapse on (provider, event_id).
CREATE TABLE inbox (
  id bigserial PRIMARY KEY,
  provider text NOT NULL,
  event_id text NOT NULL,
  event_type text NOT NULL,
  connection_id text REFERENCES connections(id) ON DELETE SET NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'accepted',
  reason text,
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  UNIQUE (provider, event_id)
);
CREATE INDEX inbox_connection ON inbox (connection_id, received_at DESC);

-- Saved positions of pollers and long imports, so that they resume after a restart.
CREATE TABLE cursors (
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  name text NOT NULL,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, name)
);

-- What happened, newest first in the dashboard: every sync, skip and error with its reason.
CREATE TABLE activity (
  id bigserial PRIMARY KEY,
  connection_id text REFERENCES connections(id) ON DELETE CASCADE,
  flow text NOT NULL,
  status text NOT NULL,
  crm_kind text,
  crm_id text,
  qbo_kind text,
  qbo_id text,
  message text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb,
  retry jsonb,
  resolved_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_connection_time ON activity (connection_id, created_at DESC);
CREATE INDEX activity_errors ON activity (connection_id, status) WHERE status = 'error' AND resolved_at IS NULL;
