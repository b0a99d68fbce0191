-- Zero-code metering (issue 16): where the AI proxy forwards an organization's calls, per vendor protocol
-- (openai or anthropic), with the vendor key sealed like the other secrets (prisma/secret-box.ts, bound to
-- proxy_upstreams.api_key_enc:<organization id>:<vendor>), and the event type its calls are metered as.
CREATE TABLE "proxy_upstreams" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "vendor" TEXT NOT NULL,
    "base_url" TEXT NOT NULL,
    "api_key_enc" TEXT NOT NULL,
    "event_type" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "proxy_upstreams_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "proxy_upstreams_vendor_known" CHECK ("vendor" IN ('openai', 'anthropic'))
);
CREATE UNIQUE INDEX "proxy_upstreams_organization_id_vendor_key" ON "proxy_upstreams"("organization_id", "vendor");
ALTER TABLE "proxy_upstreams" ADD CONSTRAINT "proxy_upstreams_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
