-- AlterTable
ALTER TABLE "stripe_events" ADD COLUMN     "outcome" TEXT;
