-- Burn tables (issue 15, point 3): how many credits a unit of a meter costs, per value of its dimension
-- (dimension_value) or for every value without its own rate (null), e.g. 2 credits per 1,000 tokens of
-- gpt-4o. Versioned by effective dates: a new rate ends the one before it, and two rates of one meter and
-- value never overlap in time. An event burns at the rate in effect at its own timestamp.
CREATE TABLE "credit_burn_rates" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "meter_id" UUID NOT NULL,
    "dimension_value" TEXT,
    "credits" DECIMAL(20,6) NOT NULL,
    "per_units" DECIMAL(20,6) NOT NULL DEFAULT 1,
    "effective_from" TIMESTAMPTZ(3) NOT NULL,
    "effective_to" TIMESTAMPTZ(3),
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "credit_burn_rates_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credit_burn_rates_credits_not_negative" CHECK ("credits" >= 0),
    CONSTRAINT "credit_burn_rates_per_units_positive" CHECK ("per_units" > 0),
    CONSTRAINT "credit_burn_rates_dimension_value_not_empty" CHECK ("dimension_value" <> ''),
    CONSTRAINT "credit_burn_rates_effective_range" CHECK ("effective_to" IS NULL OR "effective_to" > "effective_from")
);
CREATE INDEX "credit_burn_rates_organization_id_meter_id_idx" ON "credit_burn_rates"("organization_id", "meter_id");
ALTER TABLE "credit_burn_rates" ADD CONSTRAINT "credit_burn_rates_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "credit_burn_rates" ADD CONSTRAINT "credit_burn_rates_meter_id_fkey" FOREIGN KEY ("meter_id") REFERENCES "meters"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "credit_burn_rates" ADD CONSTRAINT "credit_burn_rates_no_overlap" EXCLUDE USING gist (
    "organization_id" WITH =, "meter_id" WITH =, (COALESCE("dimension_value", '')) WITH =, tstzrange("effective_from", "effective_to") WITH &&
);

-- A burn made by an ingest processing batch names it: its events are the batch's events of the wallet's customer.
ALTER TABLE "credit_transactions" ADD COLUMN "batch_id" UUID;
