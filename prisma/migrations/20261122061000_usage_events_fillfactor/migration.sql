-- The ingest workflow updates every event twice (customer_linked, then
-- rated), touching no indexed column. With free room on each page PostgreSQL
-- makes those heap-only (HOT) updates: no new entries in the five indexes of
-- usage_events, which at fillfactor 100 cost more than the insert itself.
ALTER TABLE "usage_events" SET (fillfactor = 50);
