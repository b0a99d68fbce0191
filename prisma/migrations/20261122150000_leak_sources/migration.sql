-- DropIndex
DROP INDEX "invoices_subscription_id_period_start_key";

-- AlterTable
ALTER TABLE "meters" ADD COLUMN     "stripe_price_id" TEXT;

-- AlterTable
ALTER TABLE "subscriptions" ADD COLUMN     "contracted_base_fee" DECIMAL(20,6);

-- AlterTable
ALTER TABLE "invoices" ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'period',
ADD COLUMN     "recovery_finding_id" TEXT NOT NULL DEFAULT '';

-- CreateIndex
CREATE UNIQUE INDEX "invoices_subscription_id_period_start_recovery_finding_id_key" ON "invoices"("subscription_id", "period_start", "recovery_finding_id");

