-- Team pools (issue 15, point 2): a child customer draws on its parent's credit wallet.
-- One level: a parent has no parent of its own, a child no children (services/customers.ts checks under row locks).
ALTER TABLE "customers" ADD COLUMN "parent_customer_id" UUID;
ALTER TABLE "customers" ADD CONSTRAINT "customers_parent_customer_id_fkey" FOREIGN KEY ("parent_customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "customers" ADD CONSTRAINT "customers_parent_not_self" CHECK ("parent_customer_id" IS NULL OR "parent_customer_id" <> "id");
CREATE INDEX "customers_parent_customer_id_idx" ON "customers"("parent_customer_id") WHERE "parent_customer_id" IS NOT NULL;
