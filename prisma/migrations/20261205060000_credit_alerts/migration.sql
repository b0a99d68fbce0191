-- Credit balance alerts (issue 15, point 8). A wallet's low-balance threshold, in credits: a burn that leaves the
-- spendable balance at or below it raises one credits.low_balance notification per wallet and grant episode (until
-- a new grant). Null: no low-balance alert (the wallet still alerts when it is exhausted).
ALTER TABLE "credit_wallets" ADD COLUMN "low_balance_threshold" DECIMAL(20,6);
ALTER TABLE "credit_wallets" ADD CONSTRAINT "credit_wallets_low_balance_threshold_not_negative" CHECK ("low_balance_threshold" >= 0);
