-- Credit reservations (issue 15, point 5). A reservation holds credits before an expensive call: its hold moves them
-- from the wallet's grants, in burn order, to the organization's reserved account (one reserve transaction,
-- key reserve:<id>). It is settled once (one settle transaction, key settle:<id>): every held credit goes back to its
-- grant, and when an event commits it, what the event used is burned from the same grants. A release or an expiry
-- (a workflow timer at expires_at) commits nothing.
ALTER TYPE "credit_account" ADD VALUE 'reserved';
ALTER TYPE "credit_transaction_kind" ADD VALUE 'reserve';
ALTER TYPE "credit_transaction_kind" ADD VALUE 'settle';
CREATE TYPE "credit_reservation_status" AS ENUM ('held', 'committed', 'released', 'expired');

CREATE TABLE "credit_reservations" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "wallet_id" UUID NOT NULL,
    "credits" DECIMAL(20,6) NOT NULL,
    "status" "credit_reservation_status" NOT NULL DEFAULT 'held',
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "committed" DECIMAL(20,6),
    "event_id" UUID,
    "settled_at" TIMESTAMPTZ(3),
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "credit_reservations_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credit_reservations_credits_positive" CHECK ("credits" > 0),
    CONSTRAINT "credit_reservations_settled" CHECK (("status" = 'held') = ("settled_at" IS NULL)),
    CONSTRAINT "credit_reservations_committed" CHECK (("status" = 'committed') = ("committed" IS NOT NULL))
);
CREATE UNIQUE INDEX "credit_reservations_organization_id_idempotency_key_key" ON "credit_reservations"("organization_id", "idempotency_key");
CREATE INDEX "credit_reservations_wallet_id_held_idx" ON "credit_reservations"("wallet_id") WHERE "status" = 'held';
ALTER TABLE "credit_reservations" ADD CONSTRAINT "credit_reservations_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "credit_reservations" ADD CONSTRAINT "credit_reservations_wallet_id_fkey" FOREIGN KEY ("wallet_id") REFERENCES "credit_wallets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The reservation an event commits (sent with it): its burn draws from the hold first.
ALTER TABLE "usage_events" ADD COLUMN "reservation_id" UUID;
