-- Vendor rates price more than input and output tokens: prompt-cache reads and writes, reasoning tokens, and
-- units (an image, a second of audio or video, a request). A price a rate does not set is NULL (billing/token-cost.ts
-- says which ones fall back to another), so input and output prices become optional too, but a rate sets one at least.
ALTER TABLE "vendor_rates"
    ALTER COLUMN "input_per_million_tokens" DROP NOT NULL,
    ALTER COLUMN "output_per_million_tokens" DROP NOT NULL,
    ADD COLUMN "cached_input_per_million_tokens" DECIMAL(20,6),
    ADD COLUMN "cache_write_per_million_tokens" DECIMAL(20,6),
    ADD COLUMN "reasoning_per_million_tokens" DECIMAL(20,6),
    ADD COLUMN "per_image" DECIMAL(20,6),
    ADD COLUMN "per_second" DECIMAL(20,6),
    ADD COLUMN "per_request" DECIMAL(20,6),
    ADD CONSTRAINT "vendor_rates_some_price" CHECK (num_nonnulls("input_per_million_tokens", "output_per_million_tokens", "cached_input_per_million_tokens",
        "cache_write_per_million_tokens", "reasoning_per_million_tokens", "per_image", "per_second", "per_request") > 0);
