-- Invoice numbers (issue 12, point 2): sequential per organization and
-- prefix, assigned in the transaction that finalizes the invoice, so a
-- rolled-back finalization takes its number back (no gaps) and the row lock
-- on the sequence serializes concurrent ones (no duplicates).
ALTER TABLE "organizations" ADD COLUMN "invoice_number_prefix" TEXT NOT NULL DEFAULT 'INV';
CREATE TABLE "invoice_number_sequences" (
    "organization_id" UUID NOT NULL,
    "prefix" TEXT NOT NULL,
    "last_number" BIGINT NOT NULL,
    CONSTRAINT "invoice_number_sequences_pkey" PRIMARY KEY ("organization_id", "prefix"),
    CONSTRAINT "invoice_number_sequences_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
ALTER TABLE "invoices" ADD COLUMN "number" TEXT;
CREATE UNIQUE INDEX "invoices_organization_id_number_key" ON "invoices"("organization_id", "number");
