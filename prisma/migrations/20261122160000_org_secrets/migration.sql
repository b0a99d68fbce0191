-- Secrets move to columns sealed with LEDGERFLOW_SECRET_KEY (prisma/secret-box.ts).
-- crm_webhook_secret held plain text and no API could set it: set it again with
-- PATCH /api/v1/settings/alerts, which stores it sealed in crm_webhook_secret_enc.
-- AlterTable
ALTER TABLE "organizations" DROP COLUMN "crm_webhook_secret",
ADD COLUMN     "alert_email_from" TEXT,
ADD COLUMN     "alert_email_recipients" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "crm_webhook_secret_enc" TEXT,
ADD COLUMN     "slack_bot_token_enc" TEXT,
ADD COLUMN     "smtp_password_enc" TEXT,
ADD COLUMN     "smtp_url" TEXT,
ADD COLUMN     "stripe_secret_key_enc" TEXT,
ADD COLUMN     "stripe_webhook_secret_enc" TEXT;

