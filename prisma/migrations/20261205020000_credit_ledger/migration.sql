-- Prepaid credits (issue 15): a wallet per customer holding grants, and an append-only double-entry ledger.
-- A ledger transaction (credit_transactions) is one step with a natural key (grant:<id>, a burn's key,
-- expire:<grant id>), so running a step twice writes it once. Its entries each move an amount of credits
-- from one account to another: a grant's own account, or the organization's issuance, usage and breakage
-- accounts. A grant's balance is what its account received minus what it gave. Each entry also carries
-- the grant's balance after it (balance_after, written once under the wallet's lock, in seq order), so a
-- balance is read from the grant's latest entry instead of summing every entry it ever had.
CREATE TYPE "credit_grant_kind" AS ENUM ('purchased', 'promotional', 'recurring');
CREATE TYPE "credit_account" AS ENUM ('grant', 'issuance', 'usage', 'breakage');
CREATE TYPE "credit_transaction_kind" AS ENUM ('grant', 'burn', 'expiry');

CREATE TABLE "credit_wallets" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "customer_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "credit_wallets_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "credit_wallets_customer_id_key" ON "credit_wallets"("customer_id");
CREATE INDEX "credit_wallets_organization_id_idx" ON "credit_wallets"("organization_id");
ALTER TABLE "credit_wallets" ADD CONSTRAINT "credit_wallets_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "credit_wallets" ADD CONSTRAINT "credit_wallets_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE TABLE "credit_grants" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "wallet_id" UUID NOT NULL,
    "kind" "credit_grant_kind" NOT NULL,
    "credits" DECIMAL(20,6) NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 100,
    "expires_at" TIMESTAMPTZ(3),
    "price_per_credit" DECIMAL(20,6) NOT NULL DEFAULT 0,
    "currency" TEXT NOT NULL,
    "description" TEXT,
    "idempotency_key" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "credit_grants_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credit_grants_credits_positive" CHECK ("credits" > 0),
    CONSTRAINT "credit_grants_priority_not_negative" CHECK ("priority" >= 0),
    CONSTRAINT "credit_grants_price_not_negative" CHECK ("price_per_credit" >= 0)
);
CREATE UNIQUE INDEX "credit_grants_organization_id_idempotency_key_key" ON "credit_grants"("organization_id", "idempotency_key");
CREATE INDEX "credit_grants_wallet_id_idx" ON "credit_grants"("wallet_id");
ALTER TABLE "credit_grants" ADD CONSTRAINT "credit_grants_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "credit_grants" ADD CONSTRAINT "credit_grants_wallet_id_fkey" FOREIGN KEY ("wallet_id") REFERENCES "credit_wallets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE TABLE "credit_transactions" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "wallet_id" UUID NOT NULL,
    "kind" "credit_transaction_kind" NOT NULL,
    "key" TEXT NOT NULL,
    "credits" DECIMAL(20,6) NOT NULL,
    "uncovered" DECIMAL(20,6) NOT NULL DEFAULT 0,
    "event_id" UUID,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "credit_transactions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credit_transactions_amounts_not_negative" CHECK ("credits" >= 0 AND "uncovered" >= 0 AND "uncovered" <= "credits")
);
CREATE UNIQUE INDEX "credit_transactions_organization_id_key_key" ON "credit_transactions"("organization_id", "key");
CREATE INDEX "credit_transactions_wallet_id_created_at_id_idx" ON "credit_transactions"("wallet_id", "created_at", "id");
-- (the organization through the wallet)
ALTER TABLE "credit_transactions" ADD CONSTRAINT "credit_transactions_wallet_id_fkey" FOREIGN KEY ("wallet_id") REFERENCES "credit_wallets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE TABLE "credit_ledger_entries" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "organization_id" UUID NOT NULL,
    "transaction_id" UUID NOT NULL,
    "wallet_id" UUID NOT NULL,
    "grant_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "debit" "credit_account" NOT NULL,
    "credit" "credit_account" NOT NULL,
    "amount" DECIMAL(20,6) NOT NULL,
    "balance_after" DECIMAL(20,6) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "credit_ledger_entries_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credit_ledger_entries_balance_not_negative" CHECK ("balance_after" >= 0),
    CONSTRAINT "credit_ledger_entries_amount_positive" CHECK ("amount" > 0),
    CONSTRAINT "credit_ledger_entries_two_accounts" CHECK ("debit" <> "credit"),
    CONSTRAINT "credit_ledger_entries_one_grant_side" CHECK (("debit" = 'grant') <> ("credit" = 'grant'))
);
CREATE UNIQUE INDEX "credit_ledger_entries_grant_id_seq_key" ON "credit_ledger_entries"("grant_id", "seq");
CREATE UNIQUE INDEX "credit_ledger_entries_transaction_id_position_key" ON "credit_ledger_entries"("transaction_id", "position");
CREATE INDEX "credit_ledger_entries_wallet_id_created_at_transaction_id_position_idx" ON "credit_ledger_entries"("wallet_id", "created_at", "transaction_id", "position");
ALTER TABLE "credit_ledger_entries" ADD CONSTRAINT "credit_ledger_entries_transaction_id_fkey" FOREIGN KEY ("transaction_id") REFERENCES "credit_transactions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
-- A transaction's wallet and organization are checked once, on the transaction (credit_transactions.wallet_id, and
-- the wallet's organization): an entry repeats them for its indexes, written by prisma/credit-ledger.ts only, so each
-- ingest batch's burn checks two foreign keys per entry rather than four.
ALTER TABLE "credit_ledger_entries" ADD CONSTRAINT "credit_ledger_entries_grant_id_fkey" FOREIGN KEY ("grant_id") REFERENCES "credit_grants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Ledger rows are immutable: a correction is a new, reversing transaction.
-- (The runner splits statements on every semicolon: the body spells them as the octal escape \073.)
CREATE FUNCTION credit_ledger_append_only() RETURNS trigger LANGUAGE plpgsql
  AS E'BEGIN RAISE EXCEPTION ''% is append-only (% refused)'', TG_TABLE_NAME, TG_OP\073 END\073';
CREATE TRIGGER credit_transactions_no_update_or_delete BEFORE UPDATE OR DELETE ON "credit_transactions"
  FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only();
CREATE TRIGGER credit_ledger_entries_no_update_or_delete BEFORE UPDATE OR DELETE ON "credit_ledger_entries"
  FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only();
CREATE TRIGGER credit_grants_no_update_or_delete BEFORE UPDATE OR DELETE ON "credit_grants"
  FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only();
