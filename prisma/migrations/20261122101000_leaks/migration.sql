-- AlterTable
ALTER TABLE "organizations" ADD COLUMN     "crm_webhook_secret" TEXT,
ADD COLUMN     "crm_webhook_url" TEXT;

-- CreateTable
CREATE TABLE "reconciliation_runs" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "period_end" TIMESTAMPTZ(3) NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'running',
    "findings_count" INTEGER NOT NULL DEFAULT 0,
    "actions_count" INTEGER NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "reconciliation_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "leak_findings" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "run_id" UUID NOT NULL,
    "customer_id" UUID,
    "customer_external_id" TEXT NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "period_end" TIMESTAMPTZ(3) NOT NULL,
    "kind" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "expected_amount" DECIMAL(24,12) NOT NULL,
    "billed_amount" DECIMAL(24,12) NOT NULL,
    "leak_amount" DECIMAL(24,12) NOT NULL,
    "currency" TEXT NOT NULL,
    "confidence" DECIMAL(4,3) NOT NULL,
    "reasons" JSONB NOT NULL DEFAULT '[]',
    "status" TEXT NOT NULL DEFAULT 'open',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "leak_findings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reported_usage" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "customer_external_id" TEXT NOT NULL,
    "meter_key" TEXT NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "quantity" DECIMAL(20,6) NOT NULL,
    "source" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "reported_usage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "recovery_actions" (
    "id" UUID NOT NULL,
    "finding_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "response_summary" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "recovery_actions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "reconciliation_runs_workflow_id_key" ON "reconciliation_runs"("workflow_id");

-- CreateIndex
CREATE INDEX "reconciliation_runs_organization_id_period_start_idx" ON "reconciliation_runs"("organization_id", "period_start");

-- CreateIndex
CREATE INDEX "leak_findings_run_id_idx" ON "leak_findings"("run_id");

-- CreateIndex
CREATE UNIQUE INDEX "leak_findings_organization_id_kind_customer_external_id_per_key" ON "leak_findings"("organization_id", "kind", "customer_external_id", "period_start", "subject");

-- CreateIndex
CREATE UNIQUE INDEX "reported_usage_organization_id_customer_external_id_meter_k_key" ON "reported_usage"("organization_id", "customer_external_id", "meter_key", "period_start", "source");

-- CreateIndex
CREATE UNIQUE INDEX "recovery_actions_idempotency_key_key" ON "recovery_actions"("idempotency_key");

-- AddForeignKey
ALTER TABLE "reconciliation_runs" ADD CONSTRAINT "reconciliation_runs_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "leak_findings" ADD CONSTRAINT "leak_findings_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "leak_findings" ADD CONSTRAINT "leak_findings_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "reconciliation_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reported_usage" ADD CONSTRAINT "reported_usage_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recovery_actions" ADD CONSTRAINT "recovery_actions_finding_id_fkey" FOREIGN KEY ("finding_id") REFERENCES "leak_findings"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

