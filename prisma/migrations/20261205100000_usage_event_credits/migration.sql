-- What an event burned moves off usage_events into a narrow table of its own, written only for events that burned.
-- Widening every wallet event's row (two numerics and a uuid array, by rating's UPDATE) cost more than the rest of
-- burning together: the wider new row version no longer fit beside the old one on its page (usage_events has
-- fillfactor 50 for that), so rating's update stopped being a HOT update and wrote an entry into every index of the
-- table. bench:credits measured it at about 0.05 ms of CPU per event. A row here is one insert with one index entry.
-- There is no foreign key to usage_events: the row is written in the transaction that rates the event, and a
-- foreign key check would lock the event's row for each insert. The event's credits (credits > 0), the part its
-- wallet could not cover (uncovered), and the meters whose burn rates priced it (meter_ids). An event without a row
-- burned nothing: a close bills all of its usage.
CREATE TABLE "usage_event_credits" (
    "event_id" UUID NOT NULL,
    "credits" DECIMAL(20,6) NOT NULL,
    "uncovered" DECIMAL(20,6) NOT NULL,
    "meter_ids" UUID[] NOT NULL,
    CONSTRAINT "usage_event_credits_pkey" PRIMARY KEY ("event_id"),
    CONSTRAINT "usage_event_credits_consistent" CHECK ("credits" > 0 AND "uncovered" >= 0 AND "uncovered" <= "credits" AND "meter_ids" <> '{}')
);

INSERT INTO "usage_event_credits" ("event_id", "credits", "uncovered", "meter_ids")
SELECT "id", "credits", "credits_uncovered", "credit_meter_ids" FROM "usage_events" WHERE "credits" > 0;

ALTER TABLE "usage_events" DROP CONSTRAINT "usage_events_credits_consistent";
ALTER TABLE "usage_events" DROP COLUMN "credits";
ALTER TABLE "usage_events" DROP COLUMN "credits_uncovered";
ALTER TABLE "usage_events" DROP COLUMN "credit_meter_ids";
