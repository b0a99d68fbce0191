-- What the sweeper schedule needs to start what was never started, in
-- production as in development (issue 12, point 10): when a subscription's
-- workflow was known to start (null = not known: the sweeper starts it,
-- a no-op if it exists), and the interval an organization's margin-watch
-- schedule has (null = none yet).
ALTER TABLE "subscriptions" ADD COLUMN "workflow_started_at" TIMESTAMPTZ(3);
ALTER TABLE "organizations" ADD COLUMN "margin_watch_scheduled_minutes" INTEGER;
-- Subscriptions not known to be started, oldest first: the sweeper's work list.
CREATE INDEX "subscriptions_workflow_unstarted_idx" ON "subscriptions"("created_at") WHERE "workflow_started_at" IS NULL AND "status" = 'active';
