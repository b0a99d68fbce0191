-- CreateTable
CREATE TABLE "quota_counter_batches" (
    "counter_id" UUID NOT NULL,
    "batch_id" UUID NOT NULL,
    "quantity" DECIMAL(20,6) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "quota_counter_batches_pkey" PRIMARY KEY ("counter_id","batch_id")
);

-- AddForeignKey
ALTER TABLE "quota_counter_batches" ADD CONSTRAINT "quota_counter_batches_counter_id_fkey" FOREIGN KEY ("counter_id") REFERENCES "quota_counters"("id") ON DELETE CASCADE ON UPDATE CASCADE;

