-- One review request per contact and connection, ever. The row is written BEFORE the request is sent, so that a
-- duplicated event, a second paid invoice or a restart finds it and sends nothing; the outcome (a HighLevel
-- messageId for direct messages) is recorded after the send.
CREATE TABLE review_requests (
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  contact_id text NOT NULL,
  qbo_customer_id text NOT NULL,
  qbo_invoice_id text NOT NULL,
  method text NOT NULL,
  -- sending: claimed, outcome unknown yet; sent: done; failed: refused by HighLevel before anything went out;
  -- uncertain: the answer was lost, the message may have gone out (never resent automatically).
  state text NOT NULL DEFAULT 'sending',
  message_id text,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, contact_id)
);
