-- The margin-watch schedule spec each organization's schedule was last brought to. A worker of an older release
-- (still running while a new one rolls out) records only the interval, so the new worker can tell the schedules it
-- has not yet brought to its spec from those it has.
ALTER TABLE "organizations" ADD COLUMN "margin_watch_spec_version" INTEGER;
