-- A counter sums up to 1,000 events per batch, each up to 10^14 (quantity is
-- DECIMAL(20,6)): at DECIMAL(20,6) two large events in one window overflowed
-- it, and the batch's transaction failed on every retry. 38 digits hold any
-- realistic window's sum.
ALTER TABLE "quota_counters" ALTER COLUMN "used" TYPE DECIMAL(38,6);
ALTER TABLE "quota_counter_batches" ALTER COLUMN "quantity" TYPE DECIMAL(38,6);
