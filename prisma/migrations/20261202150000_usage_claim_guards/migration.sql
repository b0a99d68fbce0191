-- Guards on range claims (review of issue 12, point 12).
-- A claim's snapshot may see events of its range that a late-usage line had
-- already claimed one by one: the claim does not bill them, and says so
-- (excluded_event_ids), so that if that line lets them go (a write-off, a
-- re-draft) they are unbilled again rather than covered by a claim that
-- never billed them. The partial index finds those few events by range.
ALTER TABLE "usage_claims" ADD COLUMN "excluded_event_ids" UUID[] NOT NULL DEFAULT '{}';
CREATE INDEX "usage_events_claimed_one_by_one_idx" ON "usage_events"("organization_id", "customer_external_id", "event_type", "timestamp") WHERE "invoice_line_id" IS NOT NULL;
-- Every close of a customer's usage updates this, so two closes that claim
-- the same customer's events at once (a range claim and a late claim touch no
-- common row) conflict, and the later one retries and sees the other.
ALTER TABLE "customers" ADD COLUMN "usage_claimed_at" TIMESTAMPTZ(3);
