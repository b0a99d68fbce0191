-- One quota limit per organization, event type and customer, the organization default included.
-- The unique index treated NULL customers as distinct, so an organization could hold two defaults
-- for one event type, and which one governed depended on the order ingest happened to read them in
-- (no ORDER BY). The newest of such defaults is kept, the older ones are removed with their
-- counters, and each removal is written to the audit log with the row as it was.
INSERT INTO "audit_logs" ("organization_id", "actor_type", "actor_id", "action", "entity_type", "entity_id", "before")
SELECT q."organization_id", 'system', 'migration:20261204060000_quota_limit_one_default', 'quota_limit.deleted', 'quota_limit', q."id"::text,
       jsonb_build_object('customer_external_id', q."customer_external_id", 'event_type', q."event_type", 'limit', trim_scale(q."limit_value")::text,
                          'mode', q."mode", 'soft_warning_percent', q."soft_warning_percent", 'grace_period_seconds', q."grace_period_seconds",
                          'reset_window', q."reset_window", 'reason', 'a second organization default for this event type, the newest one was kept')
  FROM "quota_limits" q
 WHERE q."customer_external_id" IS NULL
   AND EXISTS (SELECT 1 FROM "quota_limits" newer
                WHERE newer."organization_id" = q."organization_id" AND newer."event_type" = q."event_type"
                  AND newer."customer_external_id" IS NULL AND (newer."created_at", newer."id") > (q."created_at", q."id"));

DELETE FROM "quota_limits" q
 WHERE q."customer_external_id" IS NULL
   AND EXISTS (SELECT 1 FROM "quota_limits" newer
                WHERE newer."organization_id" = q."organization_id" AND newer."event_type" = q."event_type"
                  AND newer."customer_external_id" IS NULL AND (newer."created_at", newer."id") > (q."created_at", q."id"));

DROP INDEX "quota_limits_organization_id_event_type_customer_external_i_key";
CREATE UNIQUE INDEX "quota_limits_organization_id_event_type_customer_external_i_key"
    ON "quota_limits" ("organization_id", "event_type", "customer_external_id") NULLS NOT DISTINCT;

-- What a change to a limit records: when it last changed.
ALTER TABLE "quota_limits" ADD COLUMN "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
