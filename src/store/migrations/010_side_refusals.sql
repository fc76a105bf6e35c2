-- When a provider refused a side's stored tokens (its refresh token revoked or expired, the app uninstalled from the
-- HighLevel location). A side needs its own reconnect when its tokens are missing or refused, and a connection is
-- live only when neither side does.
ALTER TABLE connections ADD COLUMN qbo_refused_at timestamptz;
ALTER TABLE connections ADD COLUMN hl_refused_at timestamptz;

-- Connections revoked before this column existed: the side their reason names.
UPDATE connections SET hl_refused_at = updated_at WHERE status = 'revoked' AND status_reason LIKE '%HighLevel%';
UPDATE connections SET qbo_refused_at = updated_at WHERE status = 'revoked' AND status_reason LIKE '%QuickBooks%';

-- A connection marked connected while a side holds no tokens (reconnecting QuickBooks after a Disconnect did this)
-- waits for that side's reconnect instead of stopping every job it starts.
UPDATE connections SET status = 'revoked', updated_at = now(),
  status_reason = CASE
    WHEN qbo_tokens IS NULL AND hl_tokens IS NULL THEN 'Needs QuickBooks and HighLevel reconnect: no tokens are stored for either side'
    WHEN hl_tokens IS NULL THEN 'Needs HighLevel reconnect: no HighLevel tokens are stored'
    ELSE 'Needs QuickBooks reconnect: no QuickBooks tokens are stored' END
WHERE status = 'connected' AND (qbo_tokens IS NULL OR hl_tokens IS NULL);
