-- Credit notes (issue 12, point 2): full or partial credit on a finalized
-- invoice, with a reason, mirrored in Stripe. A note is written by its
-- workflow (credit-note:<request key>) as pending, then issued in Stripe with
-- an idempotency key from its id, numbered like invoices under the prefix
-- <invoice prefix>-CN, and audited at each step.
CREATE TYPE "credit_note_status" AS ENUM ('pending', 'issued', 'failed');

CREATE TABLE "credit_notes" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "invoice_id" UUID NOT NULL,
    "request_key" TEXT NOT NULL,
    "number" TEXT,
    "amount" DECIMAL(20,6) NOT NULL,
    "currency" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "refund" BOOLEAN NOT NULL DEFAULT false,
    "status" "credit_note_status" NOT NULL DEFAULT 'pending',
    "failure" TEXT,
    "stripe_credit_note_id" TEXT,
    "requested_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "issued_at" TIMESTAMPTZ(3),
    CONSTRAINT "credit_notes_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credit_notes_amount_check" CHECK ("amount" > 0),
    CONSTRAINT "credit_notes_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "credit_notes_invoice_id_fkey" FOREIGN KEY ("invoice_id") REFERENCES "invoices"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "credit_notes_organization_id_request_key_key" ON "credit_notes"("organization_id", "request_key");
CREATE UNIQUE INDEX "credit_notes_organization_id_number_key" ON "credit_notes"("organization_id", "number");
CREATE INDEX "credit_notes_invoice_id_idx" ON "credit_notes"("invoice_id");
