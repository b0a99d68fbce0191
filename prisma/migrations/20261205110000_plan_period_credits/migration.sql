-- Recurring credits from a plan (issue 15, point 2): each billing period of a subscription to the plan grants its
-- customer period_credits (a recurring grant, key period-credits:<subscription>:<period start>, granted once
-- however often the period's workflow runs). Without rollover what is left expires at the period end (to breakage),
-- with rollover it stays. Null: the plan grants none.
ALTER TABLE "plans" ADD COLUMN "period_credits" DECIMAL(20,6);
ALTER TABLE "plans" ADD COLUMN "period_credits_rollover" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "plans" ADD CONSTRAINT "plans_period_credits_positive" CHECK ("period_credits" IS NULL OR "period_credits" > 0);
