-- A top-up paid by invoice (issue 15, point 6, for a customer with no card on file): pay_by set means its Stripe
-- invoice is sent to the customer to pay online by then (hosted_invoice_url, Stripe's page), instead of charged to
-- the card on file. Unpaid at pay_by, it is voided and the top-up fails.
ALTER TABLE "credit_top_ups" ADD COLUMN "pay_by" TIMESTAMPTZ(3);
ALTER TABLE "credit_top_ups" ADD COLUMN "hosted_invoice_url" TEXT;
ALTER TABLE "credit_top_ups" ADD CONSTRAINT "credit_top_ups_invoice_not_automatic" CHECK ("pay_by" IS NULL OR NOT "automatic");
