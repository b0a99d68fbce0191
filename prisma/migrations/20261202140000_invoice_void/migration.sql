-- Void (issue 12, point 2): finance voids a finalized invoice still being
-- collected, in Stripe and here, with a reason. A void invoice bills nothing
-- (like a rejected or written-off one) and its billing run waits for the
-- period to be re-drafted (a corrected invoice, approved and collected anew)
-- or written off.
ALTER TYPE "invoice_status" ADD VALUE 'void';
ALTER TABLE "invoices" ADD COLUMN "voided_at" TIMESTAMPTZ(3);
ALTER TABLE "invoices" ADD COLUMN "voided_by" TEXT;
ALTER TABLE "invoices" ADD COLUMN "void_reason" TEXT;
