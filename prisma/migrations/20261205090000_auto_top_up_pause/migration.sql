-- A wallet's automatic top-up pauses when one fails (a declined card, no card on file): without the pause every
-- later burning batch would queue another charge of the same card and raise another alert. Set with the failed
-- top-up, cleared when the organization changes the wallet's auto_top_up or a top-up of the wallet is paid.
ALTER TABLE "credit_wallets" ADD COLUMN "auto_top_up_paused_at" TIMESTAMPTZ(3);
ALTER TABLE "credit_wallets" ADD COLUMN "auto_top_up_paused_reason" TEXT;
ALTER TABLE "credit_wallets" ADD CONSTRAINT "credit_wallets_auto_top_up_paused" CHECK (("auto_top_up_paused_at" IS NULL) = ("auto_top_up_paused_reason" IS NULL));
