-- Plan versions: a price change makes a new plans row with the same key and the next version, so the
-- subscriptions on the old version keep its prices until they are moved on purpose. Every existing plan is
-- version 1. The key alone is no longer unique, the key and version are.
ALTER TABLE "plans" ADD COLUMN "version" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "plans" ADD CONSTRAINT "plans_version_positive" CHECK ("version" >= 1);
DROP INDEX "plans_organization_id_key_key";
CREATE UNIQUE INDEX "plans_organization_id_key_version_key" ON "plans"("organization_id", "key", "version");
