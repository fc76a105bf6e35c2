-- A QuickBooks company (realm) and a HighLevel location belong to at most one live connection. A disconnected
-- connection keeps its company and location for the record (its history names them) but holds neither: another
-- connection may take them, and reconnecting the disconnected one is then refused, naming the one that has them.
-- Intuit ties an app's authorisation to the company, not to the connection that asked for it: two connections on
-- one company share it, and revoking one connection's tokens ends the other's access too.

-- Stores made before the rule may hold two live connections on one company or location. The first connected keeps
-- it (a connected one before a revoked or paused one); the others are disconnected, their tokens forgotten (never
-- revoked: that would end the keeper's access), with the reason on their card and in their activity.
CREATE TEMPORARY TABLE demoted_connections (id text PRIMARY KEY, reason text NOT NULL) ON COMMIT DROP;

INSERT INTO demoted_connections (id, reason)
SELECT id, 'Another connection uses the same QuickBooks company: this one was disconnected. Reconnect it to a company of its own'
FROM (
  SELECT id, row_number() OVER (PARTITION BY qbo_realm_id ORDER BY (status = 'connected') DESC, connected_at NULLS LAST, created_at, id) AS rank
  FROM connections WHERE status <> 'disconnected' AND qbo_realm_id IS NOT NULL
) ranked WHERE rank > 1;

INSERT INTO demoted_connections (id, reason)
SELECT id, 'Another connection uses the same HighLevel location: this one was disconnected. Reconnect it to a location of its own'
FROM (
  SELECT id, row_number() OVER (PARTITION BY hl_location_id ORDER BY (status = 'connected') DESC, connected_at NULLS LAST, created_at, id) AS rank
  FROM connections c WHERE status <> 'disconnected' AND hl_location_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM demoted_connections d WHERE d.id = c.id)
) ranked WHERE rank > 1;

UPDATE connections c SET status = 'disconnected', status_reason = d.reason, qbo_tokens = NULL, hl_tokens = NULL, updated_at = now()
FROM demoted_connections d WHERE c.id = d.id;

INSERT INTO activity (connection_id, flow, status, message)
SELECT id, 'connection', 'info', reason FROM demoted_connections;

CREATE UNIQUE INDEX connections_live_realm ON connections (qbo_realm_id) WHERE status <> 'disconnected' AND qbo_realm_id IS NOT NULL;
CREATE UNIQUE INDEX connections_live_location ON connections (hl_location_id) WHERE status <> 'disconnected' AND hl_location_id IS NOT NULL;

-- Reconnecting a connection to another company than before is confirmed on a page first. Between the callback
-- and the confirmation the new company's tokens wait here, sealed like the connection's own, bound to the browser
-- session that asked (the token in the page's form is stored as its SHA-256 only), for 15 minutes, used once.
CREATE TABLE company_switches (
  token_hash text PRIMARY KEY,
  session_hash text NOT NULL REFERENCES sessions(id_hash) ON DELETE CASCADE,
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  realm_id text NOT NULL,
  -- name, country, home currency of the new company; the toggles chosen before the consent page
  company jsonb NOT NULL,
  choices jsonb NOT NULL,
  tokens bytea NOT NULL,
  expires_at timestamptz NOT NULL
);

-- The links of a connection to the records of a company it no longer uses: kept, not followed (their QuickBooks ids
-- mean other records, or nothing, in the new company), and followed again if the connection goes back to that
-- company. Same columns as links, plus the company and when they were set aside.
CREATE TABLE set_aside_links (
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  realm_id text NOT NULL,
  kind text NOT NULL,
  crm_id text NOT NULL,
  qbo_id text,
  origin text NOT NULL,
  state text NOT NULL,
  snapshot_hash text,
  qbo_sync_token text,
  qbo_updated_at text,
  crm_updated_at text,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  set_aside_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, realm_id, kind, crm_id)
);

-- The settings that name a company's own records (tax code ids), set aside with the links, for the same reason.
CREATE TABLE set_aside_company_settings (
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  realm_id text NOT NULL,
  company_name text,
  tax_code_mapping jsonb NOT NULL DEFAULT '{}'::jsonb,
  set_aside_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, realm_id)
);
