-- The usage lines rating left unpriced (no rate in effect at the event's timestamp, a count its rate has no
-- price for, or a line of the wrong shape), kept on the event itself: NULL when every line was priced. The
-- unpriced-events list reads them through the partial index, and a re-rate prices them once a rate exists.
ALTER TABLE "usage_events" ADD COLUMN "unpriced_usage" JSONB;

CREATE INDEX "usage_events_unpriced_idx" ON "usage_events" ("organization_id", "timestamp" DESC, "id") WHERE "unpriced_usage" IS NOT NULL;

-- Events rated before the column: their audit rows (event.rating_incomplete) list the lines.
UPDATE "usage_events" AS e
   SET "unpriced_usage" = a."after" -> 'unpricedLines'
  FROM "audit_logs" AS a
 WHERE a."action" = 'event.rating_incomplete'
   AND a."entity_type" = 'usage_event'
   AND a."organization_id" = e."organization_id"
   AND a."entity_id" = e."id"::text
   AND jsonb_typeof(a."after" -> 'unpricedLines') = 'array';
