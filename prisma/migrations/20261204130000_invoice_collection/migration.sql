-- How invoices are collected (issue 14, point 5). An organization either charges a card on file and sends the
-- invoice when there is none (auto), or always sends invoices to pay by a due date (send_invoice). Each invoice
-- keeps the method decided when it went to Stripe, its due date once sent, and the hosted page where the customer
-- pays it.
-- Invoices finalized before this were all charged, so they read as charge_automatically.
ALTER TABLE "organizations" ADD COLUMN "invoice_collection" TEXT NOT NULL DEFAULT 'auto';
ALTER TABLE "organizations" ADD COLUMN "invoice_due_days" INTEGER NOT NULL DEFAULT 30;
ALTER TABLE "organizations" ADD CONSTRAINT "organizations_invoice_collection_check" CHECK ("invoice_collection" IN ('auto', 'send_invoice'));
ALTER TABLE "organizations" ADD CONSTRAINT "organizations_invoice_due_days_check" CHECK ("invoice_due_days" BETWEEN 1 AND 365);

ALTER TABLE "invoices" ADD COLUMN "collection_method" TEXT;
ALTER TABLE "invoices" ADD COLUMN "due_at" TIMESTAMPTZ(3);
ALTER TABLE "invoices" ADD COLUMN "hosted_invoice_url" TEXT;
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_collection_method_check" CHECK (
    ("collection_method" IS NULL AND "due_at" IS NULL)
 OR ("collection_method" = 'charge_automatically' AND "due_at" IS NULL)
 OR "collection_method" = 'send_invoice');
UPDATE "invoices" SET "collection_method" = 'charge_automatically' WHERE "stripe_invoice_id" IS NOT NULL
