-- Rate limits an operator can set per organization and per API key (issue 11),
-- in requests per second. Unset: the deployment default for an organization,
-- none of its own for a key. Zero: no limit.
ALTER TABLE "organizations" ADD COLUMN "rate_limit_per_second" INTEGER;
ALTER TABLE "api_keys" ADD COLUMN "rate_limit_per_second" INTEGER;
ALTER TABLE "organizations" ADD CONSTRAINT "organizations_rate_limit_per_second_check" CHECK ("rate_limit_per_second" >= 0);
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_rate_limit_per_second_check" CHECK ("rate_limit_per_second" >= 0);

-- Live API processes (a heartbeat every few seconds): each enforces its share
-- of a limit in memory, the limit divided by how many are live. Worth nothing
-- after a crash, hence unlogged.
CREATE UNLOGGED TABLE "api_instances" (
    "id" TEXT NOT NULL,
    "seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "api_instances_pkey" PRIMARY KEY ("id")
);
