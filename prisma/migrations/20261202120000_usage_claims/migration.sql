-- Range claims (issue 12, point 12): a period close no longer rewrites every
-- event row it bills. A usage line claims a (customer, event type, time range)
-- together with the snapshot of the closing transaction, and bills exactly the
-- events of that range the snapshot saw: those whose storing transaction
-- (usage_events.inserted_xid, set once at insert and never changed) is visible
-- in it. A claim is per meter (two meters may read the same event type).
-- Events of the range stored later are late usage, claimed one by one
-- (usage_events.invoice_line_id) by a later close, as before.
ALTER TABLE "usage_events" ADD COLUMN "inserted_xid" xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE "usage_claims" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "invoice_line_id" UUID NOT NULL,
    "customer_external_id" TEXT NOT NULL,
    "meter_id" UUID NOT NULL,
    "event_type" TEXT NOT NULL,
    "range_start" TIMESTAMPTZ(3) NOT NULL,
    "range_end" TIMESTAMPTZ(3) NOT NULL,
    "snapshot" pg_snapshot NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "released_at" TIMESTAMPTZ(3),
    CONSTRAINT "usage_claims_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "usage_claims_range_check" CHECK ("range_start" < "range_end"),
    CONSTRAINT "usage_claims_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "usage_claims_meter_id_fkey" FOREIGN KEY ("meter_id") REFERENCES "meters"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "usage_claims_invoice_line_id_fkey" FOREIGN KEY ("invoice_line_id") REFERENCES "invoice_lines"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    -- Two live claims never share an instant of one customer's meter: each event is billed once per meter at most.
    CONSTRAINT "usage_claims_no_overlap" EXCLUDE USING gist (
        "organization_id" WITH =, "customer_external_id" WITH =, "meter_id" WITH =, tstzrange("range_start", "range_end") WITH &&
    ) WHERE ("released_at" IS NULL)
);
CREATE INDEX "usage_claims_invoice_line_id_idx" ON "usage_claims"("invoice_line_id");
