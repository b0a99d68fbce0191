-- AlterTable
ALTER TABLE "organizations" ADD COLUMN     "margin_alert_step_bps" INTEGER NOT NULL DEFAULT 500,
ADD COLUMN     "margin_threshold_bps" INTEGER NOT NULL DEFAULT 2000,
ADD COLUMN     "margin_watch_every_minutes" INTEGER NOT NULL DEFAULT 60;

-- CreateTable
CREATE TABLE "margin_alerts" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "scope" TEXT NOT NULL,
    "scope_key" TEXT NOT NULL,
    "currency" TEXT NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "level" TEXT NOT NULL,
    "margin_bps" INTEGER,
    "status" TEXT NOT NULL DEFAULT 'open',
    "last_notified_bps" INTEGER,
    "revision" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "resolved_at" TIMESTAMPTZ(3),

    CONSTRAINT "margin_alerts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "margin_alerts_organization_id_status_idx" ON "margin_alerts"("organization_id", "status");

-- CreateIndex
CREATE UNIQUE INDEX "margin_alerts_organization_id_scope_scope_key_currency_peri_key" ON "margin_alerts"("organization_id", "scope", "scope_key", "currency", "period_start", "level");

-- AddForeignKey
ALTER TABLE "margin_alerts" ADD CONSTRAINT "margin_alerts_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- The closed vocabularies of billing/margins.ts, enforced where the rows live.
ALTER TABLE "margin_alerts" ADD CONSTRAINT "margin_alerts_scope_check" CHECK ("scope" IN ('customer', 'feature'));
ALTER TABLE "margin_alerts" ADD CONSTRAINT "margin_alerts_level_check" CHECK ("level" IN ('below_threshold', 'negative'));
ALTER TABLE "margin_alerts" ADD CONSTRAINT "margin_alerts_status_check" CHECK ("status" IN ('open', 'resolved'));
ALTER TABLE "organizations" ADD CONSTRAINT "organizations_margin_watch_every_minutes_check" CHECK ("margin_watch_every_minutes" >= 1);
