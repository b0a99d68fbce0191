-- Ingest by server-side micro-batches (issue 11). A request (ingest_batches)
-- no longer gets a workflow of its own: the worker's batcher claims waiting
-- requests of an organization into a processing batch of up to 1,000 events
-- (or ~250 ms of arrivals) and runs one `ingest:<processing batch id>`
-- workflow for it. A request's status is its processing batch's.

CREATE TABLE "processing_batches" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "status" "batch_status" NOT NULL DEFAULT 'accepted',
    "requests" INTEGER NOT NULL,
    "events" INTEGER NOT NULL,
    -- requests claimed (ingest_batches ids): how the workflow finds its events
    "request_ids" UUID[] NOT NULL,
    -- when its oldest request was stored: the batch's arrival-to-rated latency starts here
    "oldest_accepted_at" TIMESTAMPTZ(3) NOT NULL,
    "workflow_id" TEXT,
    "run_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "processing_batches_pkey" PRIMARY KEY ("id")
);
ALTER TABLE "processing_batches" ADD CONSTRAINT "processing_batches_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
-- The overview's per-minute chart and status counts.
CREATE INDEX "processing_batches_organization_id_created_at_idx" ON "processing_batches"("organization_id", "created_at");
-- Batches whose workflow has not finished: each organization's open-batch limit, the sweeper's work list, the backlog figure.
CREATE INDEX "processing_batches_open_idx" ON "processing_batches"("organization_id", "created_at") WHERE "status" IN ('accepted', 'workflow_started');

-- Existing requests become their own processing batch under the same id, so
-- a workflow `ingest:<id>` started before this migration finds its batch.
INSERT INTO "processing_batches" ("id", "organization_id", "status", "requests", "events", "request_ids", "oldest_accepted_at", "workflow_id", "run_id", "created_at", "processed_at")
SELECT "id", "organization_id", "status", 1, "accepted", ARRAY["id"], "created_at", "workflow_id", "run_id", "created_at", "processed_at"
  FROM "ingest_batches"
 WHERE "accepted" > 0;

ALTER TABLE "ingest_batches" ADD COLUMN "processing_batch_id" UUID;
UPDATE "ingest_batches" SET "processing_batch_id" = "id" WHERE "accepted" > 0;
ALTER TABLE "ingest_batches" ADD CONSTRAINT "ingest_batches_processing_batch_id_fkey" FOREIGN KEY ("processing_batch_id") REFERENCES "processing_batches"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Status, workflow and processed time now live on the processing batch.
DROP INDEX "ingest_batches_status_created_at_idx";
DROP INDEX "ingest_batches_organization_id_created_at_idx";
ALTER TABLE "ingest_batches" DROP COLUMN "status",
DROP COLUMN "workflow_id",
DROP COLUMN "run_id",
DROP COLUMN "processed_at";
-- Requests waiting for a processing batch, oldest first: the claim's index. Small: a request leaves it when claimed.
CREATE INDEX "ingest_batches_waiting_idx" ON "ingest_batches"("organization_id", "created_at") WHERE "processing_batch_id" IS NULL AND "accepted" > 0;

-- The API writes a request's events before its ingest_batches row (the row
-- carries the counts the insert produced), in one transaction.
ALTER TABLE "usage_events" ALTER CONSTRAINT "usage_events_batch_id_fkey" DEFERRABLE INITIALLY DEFERRED;
