-- Late usage is claimed one by one per meter. An event read by two meters (calls and tokens of one event type)
-- that arrives after its period closed is billed by a late-usage line of each meter, not only of the first.
-- Before, usage_events.invoice_line_id held one line per event, and any claim counted as billed for every meter.
CREATE TABLE "late_event_claims" (
    "event_id" UUID NOT NULL,
    "meter_id" UUID NOT NULL,
    "invoice_line_id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "late_event_claims_pkey" PRIMARY KEY ("event_id", "meter_id")
);
CREATE INDEX "late_event_claims_invoice_line_id_idx" ON "late_event_claims"("invoice_line_id");
-- A meter's late claims: what a close leaves out of its range claims and aggregates (no scan of other meters' claims).
CREATE INDEX "late_event_claims_meter_id_event_id_idx" ON "late_event_claims"("meter_id", "event_id");
ALTER TABLE "late_event_claims" ADD CONSTRAINT "late_event_claims_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "usage_events"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "late_event_claims" ADD CONSTRAINT "late_event_claims_meter_id_fkey" FOREIGN KEY ("meter_id") REFERENCES "meters"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "late_event_claims" ADD CONSTRAINT "late_event_claims_invoice_line_id_fkey" FOREIGN KEY ("invoice_line_id") REFERENCES "invoice_lines"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "late_event_claims" ADD CONSTRAINT "late_event_claims_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The one-by-one claims made so far move over, each for its line's meter.
INSERT INTO "late_event_claims" ("event_id", "meter_id", "invoice_line_id", "organization_id")
SELECT e."id", l."meter_id", e."invoice_line_id", e."organization_id"
FROM "usage_events" e JOIN "invoice_lines" l ON l."id" = e."invoice_line_id"
WHERE e."invoice_line_id" IS NOT NULL AND l."meter_id" IS NOT NULL;

-- Its two partial indexes go with it. Claiming late usage no longer rewrites event rows.
ALTER TABLE "usage_events" DROP COLUMN "invoice_line_id";
