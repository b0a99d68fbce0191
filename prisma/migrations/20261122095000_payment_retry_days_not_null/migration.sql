-- The billing run's retry loop reads this list, and a NULL would stop collection (Prisma lists are never null).
UPDATE "organizations" SET "payment_retry_days" = ARRAY[1, 3, 5, 7]::INTEGER[] WHERE "payment_retry_days" IS NULL;
ALTER TABLE "organizations" ALTER COLUMN "payment_retry_days" SET NOT NULL;
