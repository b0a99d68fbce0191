-- Meters with a dimension (issue 14, point 3): an event property, such as model, whose value a plan may
-- price on its own. A plan's price of a dimensional meter names one value, or none: the default, which
-- prices every value the plan does not name (and events without the property). Existing prices are
-- defaults. Each such price is a slice of the meter's usage with its own invoice lines and range claims,
-- so the lines of one meter never bill an event twice.
ALTER TABLE "meters" ADD COLUMN "dimension" TEXT;
ALTER TABLE "meters" ADD CONSTRAINT "meters_dimension_not_empty" CHECK ("dimension" <> '');

ALTER TABLE "plan_prices" ADD COLUMN "dimension_value" TEXT;
ALTER TABLE "plan_prices" ADD CONSTRAINT "plan_prices_dimension_value_not_empty" CHECK ("dimension_value" <> '');
DROP INDEX "plan_prices_plan_id_meter_id_key";
CREATE UNIQUE INDEX "plan_prices_plan_id_meter_id_dimension_value_key" ON "plan_prices"("plan_id", "meter_id", "dimension_value") NULLS NOT DISTINCT;

-- A snapshot is per meter, day and value of the meter's dimension (the empty string: events without one, and
-- every event of a meter without a dimension), whichever price bills it.
ALTER TABLE "usage_snapshots" ADD COLUMN "dimension_value" TEXT NOT NULL DEFAULT '';
DROP INDEX "usage_snapshots_customer_id_meter_id_day_key";
CREATE UNIQUE INDEX "usage_snapshots_customer_id_meter_id_day_dimension_value_key" ON "usage_snapshots"("customer_id", "meter_id", "day", "dimension_value");

ALTER TABLE "invoice_lines" ADD COLUMN "dimension_value" TEXT;

-- A claim of a slice bills the events of its range whose dimension property (usage_claims.dimension) has
-- its value, or, for the default slice (dimension_value null), a value not among dimension_others.
-- The slices of one invoice may share a range, one slice at a time, and two invoices never share an
-- instant of a customer's meter (invoice_id, from the claim's line): an event is billed once per meter.
ALTER TABLE "usage_claims" ADD COLUMN "dimension" TEXT;
ALTER TABLE "usage_claims" ADD COLUMN "dimension_value" TEXT;
ALTER TABLE "usage_claims" ADD COLUMN "dimension_others" TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE "usage_claims" ADD COLUMN "invoice_id" UUID;
UPDATE "usage_claims" c SET "invoice_id" = l."invoice_id" FROM "invoice_lines" l WHERE l."id" = c."invoice_line_id";
ALTER TABLE "usage_claims" ALTER COLUMN "invoice_id" SET NOT NULL;
ALTER TABLE "usage_claims" ADD CONSTRAINT "usage_claims_invoice_id_fkey" FOREIGN KEY ("invoice_id") REFERENCES "invoices"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "usage_claims" DROP CONSTRAINT "usage_claims_no_overlap";
ALTER TABLE "usage_claims" ADD CONSTRAINT "usage_claims_no_overlap" EXCLUDE USING gist (
    "organization_id" WITH =, "customer_external_id" WITH =, "meter_id" WITH =, (COALESCE("dimension_value", '')) WITH =, tstzrange("range_start", "range_end") WITH &&
) WHERE ("released_at" IS NULL);
ALTER TABLE "usage_claims" ADD CONSTRAINT "usage_claims_one_invoice_per_instant" EXCLUDE USING gist (
    "organization_id" WITH =, "customer_external_id" WITH =, "meter_id" WITH =, "invoice_id" WITH <>, tstzrange("range_start", "range_end") WITH &&
) WHERE ("released_at" IS NULL);
