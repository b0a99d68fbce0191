-- A rejected draft is no longer a silent write-off (issue 12, point 1):
-- finance re-drafts the period as a new revision of its invoice (the
-- rejected one is kept for the audit trail) or writes the period off, an
-- explicit decision with a reason.
ALTER TYPE "invoice_status" ADD VALUE 'written_off';
ALTER TABLE "invoices" ADD COLUMN "revision" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "invoices" ADD COLUMN "written_off_by" TEXT;
ALTER TABLE "invoices" ADD COLUMN "written_off_at" TIMESTAMPTZ(3);
ALTER TABLE "invoices" ADD COLUMN "write_off_reason" TEXT;
DROP INDEX "invoices_subscription_id_period_start_recovery_finding_id_key";
CREATE UNIQUE INDEX "invoices_subscription_id_period_start_recovery_finding_id_revision_key" ON "invoices"("subscription_id", "period_start", "recovery_finding_id", "revision");
