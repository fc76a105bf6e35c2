-- The job queue runs on pg-boss 12, which cannot migrate the schema pg-boss 10 made (pg-boss's migrations start
-- from pg-boss 11's schema, version 25). A store that ran the queue on pg-boss 10 has its jobs still to run
-- copied here, once, and that schema renamed to pgboss_10 (kept for an operator to look at or drop; renamed back,
-- it is what an older ledgerlink runs on); pg-boss 12 then installs its own schema. JobQueue.define sends each
-- copied job again through pg-boss 12 and deletes it here. A store that never had pg-boss 10 gets the empty table.
-- This is the one place ledgerlink reads a pg-boss table itself: pg-boss 10's, frozen, once.
CREATE TABLE queue_carryover (
  id bigserial PRIMARY KEY,
  queue text NOT NULL,
  data jsonb NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  start_after timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_carryover_queue ON queue_carryover (queue);
DO $$
DECLARE
  old_version integer;
BEGIN
  IF to_regclass('pgboss.version') IS NULL THEN
    RETURN;
  END IF;
  EXECUTE 'SELECT max(version) FROM pgboss.version' INTO old_version;
  IF old_version IS NULL OR old_version >= 25 THEN
    RETURN;
  END IF;
  EXECUTE $q$INSERT INTO queue_carryover (queue, data, priority, start_after)
    SELECT name, COALESCE(data, '{}'::jsonb), priority, start_after FROM pgboss.job
    WHERE state IN ('created', 'retry', 'active') ORDER BY created_on$q$;
  EXECUTE 'ALTER SCHEMA pgboss RENAME TO pgboss_10';
END $$;
