-- Credit top-ups (issue 15, point 6). A top-up buys credits through a Stripe invoice charged to the customer's card:
-- its workflow (credit-top-up:<id>) charges, and the grant is made when the payment succeeds, once (grant key
-- top-up:<id>), whether the workflow or a later invoice.paid webhook sees it first. An automatic top-up is queued by
-- the ingest batch whose burn left the wallet below its auto_top_up_below: at most one unfinished top-up per wallet.
CREATE TYPE "credit_top_up_status" AS ENUM ('pending', 'paid', 'failed');

CREATE TABLE "credit_top_ups" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "wallet_id" UUID NOT NULL,
    "automatic" BOOLEAN NOT NULL DEFAULT false,
    "credits" DECIMAL(20,6) NOT NULL,
    "price_per_credit" DECIMAL(20,6) NOT NULL,
    "currency" TEXT NOT NULL,
    "status" "credit_top_up_status" NOT NULL DEFAULT 'pending',
    "stripe_invoice_id" TEXT,
    "grant_id" UUID,
    "failure" TEXT,
    "idempotency_key" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "settled_at" TIMESTAMPTZ(3),
    CONSTRAINT "credit_top_ups_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credit_top_ups_credits_positive" CHECK ("credits" > 0 AND "price_per_credit" > 0),
    CONSTRAINT "credit_top_ups_settled" CHECK (("status" = 'pending') = ("settled_at" IS NULL)),
    CONSTRAINT "credit_top_ups_granted" CHECK (("status" = 'paid') = ("grant_id" IS NOT NULL))
);
CREATE UNIQUE INDEX "credit_top_ups_organization_id_idempotency_key_key" ON "credit_top_ups"("organization_id", "idempotency_key");
-- Never two automatic top-ups of a wallet at once.
CREATE UNIQUE INDEX "credit_top_ups_one_automatic_pending" ON "credit_top_ups"("wallet_id") WHERE "automatic" AND "status" = 'pending';
CREATE INDEX "credit_top_ups_pending_idx" ON "credit_top_ups"("created_at") WHERE "status" = 'pending';
ALTER TABLE "credit_top_ups" ADD CONSTRAINT "credit_top_ups_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "credit_top_ups" ADD CONSTRAINT "credit_top_ups_wallet_id_fkey" FOREIGN KEY ("wallet_id") REFERENCES "credit_wallets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- A wallet's automatic top-up: when a burn leaves its balance below auto_top_up_below, buy auto_top_up_credits at
-- auto_top_up_price_per_credit (in auto_top_up_currency). All null: none.
ALTER TABLE "credit_wallets" ADD COLUMN "auto_top_up_below" DECIMAL(20,6);
ALTER TABLE "credit_wallets" ADD COLUMN "auto_top_up_credits" DECIMAL(20,6);
ALTER TABLE "credit_wallets" ADD COLUMN "auto_top_up_price_per_credit" DECIMAL(20,6);
ALTER TABLE "credit_wallets" ADD COLUMN "auto_top_up_currency" TEXT;
ALTER TABLE "credit_wallets" ADD CONSTRAINT "credit_wallets_auto_top_up_complete" CHECK (
    ("auto_top_up_below" IS NULL AND "auto_top_up_credits" IS NULL AND "auto_top_up_price_per_credit" IS NULL AND "auto_top_up_currency" IS NULL)
    OR ("auto_top_up_below" >= 0 AND "auto_top_up_credits" > 0 AND "auto_top_up_price_per_credit" > 0 AND "auto_top_up_currency" IS NOT NULL)
);
