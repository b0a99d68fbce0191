-- Margin-watch schedules now run at an offset of their own within the interval and skip watches missed while
-- Temporal was down. Forgetting the interval each schedule was last set to makes the next worker start (or sweep)
-- bring every existing schedule to the new spec.
UPDATE "organizations" SET "margin_watch_scheduled_minutes" = NULL;
