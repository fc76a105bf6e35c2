-- A failure that repeats (a payment that can never sync, met on every poll) is one open error per record and
-- cause, counted and stamped with when it was last seen, instead of one row per attempt.

ALTER TABLE activity ADD COLUMN cause text;
ALTER TABLE activity ADD COLUMN occurrences integer NOT NULL DEFAULT 1;
ALTER TABLE activity ADD COLUMN last_seen_at timestamptz;

UPDATE activity SET cause = coalesce(detail->>'code', message) WHERE status = 'error';

-- Open errors already repeated: the oldest row of each record and cause keeps the count and the last time seen,
-- the copies go (they said the same thing), so that the unique index below can be built.
WITH grouped AS (
  SELECT connection_id, flow, crm_id, cause, min(id) AS keep, count(*) AS n, max(created_at) AS last_seen
  FROM activity WHERE status = 'error' AND resolved_at IS NULL AND crm_id IS NOT NULL
  GROUP BY connection_id, flow, crm_id, cause HAVING count(*) > 1
), kept AS (
  UPDATE activity a SET occurrences = g.n, last_seen_at = g.last_seen FROM grouped g WHERE a.id = g.keep RETURNING a.id
)
DELETE FROM activity a USING grouped g
WHERE a.connection_id IS NOT DISTINCT FROM g.connection_id AND a.flow = g.flow AND a.crm_id = g.crm_id AND a.cause = g.cause
  AND a.status = 'error' AND a.resolved_at IS NULL AND a.id <> g.keep;

CREATE UNIQUE INDEX activity_open_error_per_cause ON activity (connection_id, flow, crm_id, cause)
  WHERE status = 'error' AND resolved_at IS NULL AND crm_id IS NOT NULL AND cause IS NOT NULL;
