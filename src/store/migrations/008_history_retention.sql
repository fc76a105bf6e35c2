-- History that cannot grow without bound. Refused webhooks, which anyone can send without credentials, are counted
-- per provider and reason here; the activity list gets at most one sampled entry per reason and interval
-- (src/sync/intake.ts). Activity and inbox rows past their retention are deleted (src/store/retention.ts).

-- Retention deletes by age: these keep its scans short.
CREATE INDEX activity_created ON activity (created_at);
CREATE INDEX inbox_received ON inbox (received_at);

CREATE TABLE webhook_refusals (
  provider text NOT NULL,
  reason text NOT NULL,
  count bigint NOT NULL DEFAULT 1,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  -- When an activity entry last stood for this reason (at most one per interval).
  sampled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, reason)
);

-- Retention keeps the newest entry of each linked record and of each flow: these answer "is there a newer one".
CREATE INDEX activity_record ON activity (connection_id, flow, crm_id, id);
CREATE INDEX links_crm_id ON links (connection_id, crm_id);
