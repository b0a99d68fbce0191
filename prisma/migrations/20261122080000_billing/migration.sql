-- CreateEnum
CREATE TYPE "invoice_status" AS ENUM ('draft', 'approved', 'rejected', 'finalized', 'paid', 'uncollectible');

-- CreateEnum
CREATE TYPE "invoice_line_kind" AS ENUM ('base_fee', 'proration_credit', 'proration_charge', 'usage', 'late_usage', 'adjustment');

-- AlterTable
ALTER TABLE "organizations" ADD COLUMN     "approval_reminder_hours" INTEGER NOT NULL DEFAULT 24,
ADD COLUMN     "auto_approve_after_hours" INTEGER,
ADD COLUMN     "finance_email" TEXT,
ADD COLUMN     "finance_slack_channel" TEXT,
ADD COLUMN     "late_event_grace_seconds" INTEGER NOT NULL DEFAULT 3600,
ADD COLUMN     "payment_retry_days" INTEGER[] DEFAULT ARRAY[1, 3, 5, 7]::INTEGER[],
ADD COLUMN     "proration_mode" TEXT NOT NULL DEFAULT 'day';

-- AlterTable
ALTER TABLE "customers" ADD COLUMN     "stripe_customer_id" TEXT;

-- AlterTable
ALTER TABLE "usage_events" ADD COLUMN     "invoice_line_id" UUID;

-- CreateTable
CREATE TABLE "subscription_plan_changes" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "subscription_id" UUID NOT NULL,
    "from_plan_id" UUID NOT NULL,
    "to_plan_id" UUID NOT NULL,
    "effective_at" TIMESTAMPTZ(3) NOT NULL,
    "request_key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "subscription_plan_changes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_snapshots" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "customer_id" UUID NOT NULL,
    "meter_id" UUID NOT NULL,
    "day" DATE NOT NULL,
    "quantity" DECIMAL(20,6) NOT NULL,
    "event_count" INTEGER NOT NULL,
    "cost" DECIMAL(24,12) NOT NULL,
    "revenue" DECIMAL(20,6) NOT NULL,
    "newest_at" TIMESTAMPTZ(3),
    "newest_id" UUID,
    "taken_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "usage_snapshots_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "invoices" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "subscription_id" UUID NOT NULL,
    "customer_id" UUID NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "period_end" TIMESTAMPTZ(3) NOT NULL,
    "currency" TEXT NOT NULL,
    "status" "invoice_status" NOT NULL DEFAULT 'draft',
    "total" DECIMAL(20,6) NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "workflow_run_id" TEXT NOT NULL,
    "approved_by" TEXT,
    "approved_at" TIMESTAMPTZ(3),
    "approval_note" TEXT,
    "rejected_by" TEXT,
    "rejected_at" TIMESTAMPTZ(3),
    "rejection_reason" TEXT,
    "stripe_invoice_id" TEXT,
    "finalized_at" TIMESTAMPTZ(3),
    "payment_attempts" INTEGER NOT NULL DEFAULT 0,
    "paid_at" TIMESTAMPTZ(3),
    "uncollectible_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "invoices_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "invoice_lines" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "invoice_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "kind" "invoice_line_kind" NOT NULL,
    "description" TEXT NOT NULL,
    "meter_id" UUID,
    "quantity" DECIMAL(20,6),
    "included_units" DECIMAL(20,6),
    "amount" DECIMAL(20,6) NOT NULL,
    "tiers" JSONB NOT NULL DEFAULT '[]',
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "period_end" TIMESTAMPTZ(3) NOT NULL,
    "snapshot_ids" UUID[] DEFAULT ARRAY[]::UUID[],
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "invoice_lines_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "stripe_events" (
    "id" TEXT NOT NULL,
    "organization_id" UUID,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "stripe_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "subscription_plan_changes_subscription_id_effective_at_idx" ON "subscription_plan_changes"("subscription_id", "effective_at");

-- CreateIndex
CREATE UNIQUE INDEX "subscription_plan_changes_subscription_id_request_key_key" ON "subscription_plan_changes"("subscription_id", "request_key");

-- CreateIndex
CREATE INDEX "usage_snapshots_organization_id_day_idx" ON "usage_snapshots"("organization_id", "day");

-- CreateIndex
CREATE UNIQUE INDEX "usage_snapshots_customer_id_meter_id_day_key" ON "usage_snapshots"("customer_id", "meter_id", "day");

-- CreateIndex
CREATE INDEX "invoices_organization_id_status_idx" ON "invoices"("organization_id", "status");

-- CreateIndex
CREATE INDEX "invoices_stripe_invoice_id_idx" ON "invoices"("stripe_invoice_id");

-- CreateIndex
CREATE UNIQUE INDEX "invoices_subscription_id_period_start_key" ON "invoices"("subscription_id", "period_start");

-- CreateIndex
CREATE UNIQUE INDEX "invoice_lines_invoice_id_position_key" ON "invoice_lines"("invoice_id", "position");

-- CreateIndex
CREATE INDEX "stripe_events_organization_id_type_idx" ON "stripe_events"("organization_id", "type");

-- CreateIndex
-- Partial: unbilled events (every new one) add no index entry, so ingest pays nothing for it.
CREATE INDEX "usage_events_invoice_line_id_idx" ON "usage_events"("invoice_line_id") WHERE "invoice_line_id" IS NOT NULL;

-- AddForeignKey
ALTER TABLE "subscription_plan_changes" ADD CONSTRAINT "subscription_plan_changes_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "subscription_plan_changes" ADD CONSTRAINT "subscription_plan_changes_subscription_id_fkey" FOREIGN KEY ("subscription_id") REFERENCES "subscriptions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "subscription_plan_changes" ADD CONSTRAINT "subscription_plan_changes_from_plan_id_fkey" FOREIGN KEY ("from_plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "subscription_plan_changes" ADD CONSTRAINT "subscription_plan_changes_to_plan_id_fkey" FOREIGN KEY ("to_plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_snapshots" ADD CONSTRAINT "usage_snapshots_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_snapshots" ADD CONSTRAINT "usage_snapshots_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_snapshots" ADD CONSTRAINT "usage_snapshots_meter_id_fkey" FOREIGN KEY ("meter_id") REFERENCES "meters"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_subscription_id_fkey" FOREIGN KEY ("subscription_id") REFERENCES "subscriptions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoice_lines" ADD CONSTRAINT "invoice_lines_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoice_lines" ADD CONSTRAINT "invoice_lines_invoice_id_fkey" FOREIGN KEY ("invoice_id") REFERENCES "invoices"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stripe_events" ADD CONSTRAINT "stripe_events_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE SET NULL ON UPDATE CASCADE;

