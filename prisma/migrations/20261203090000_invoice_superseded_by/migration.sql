-- Re-issue (issue 12, point 2): a period's invoice re-drafted as a new
-- revision names the revision that replaced it. A replaced invoice bills
-- nothing from then on, whatever its status: a rejected or void one never
-- did, and a paid one credited in full and re-issued is billed by the new
-- revision instead (its usage and late events moved there).
ALTER TABLE "invoices" ADD COLUMN "superseded_by_id" UUID;
CREATE UNIQUE INDEX "invoices_superseded_by_id_key" ON "invoices"("superseded_by_id");
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_superseded_by_id_fkey" FOREIGN KEY ("superseded_by_id") REFERENCES "invoices"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Revisions re-drafted before this column: each names the next one of its period.
UPDATE "invoices" AS old SET "superseded_by_id" = next."id"
  FROM "invoices" AS next
 WHERE next."subscription_id" = old."subscription_id" AND next."period_start" = old."period_start"
   AND next."recovery_finding_id" = old."recovery_finding_id" AND next."revision" = old."revision" + 1
