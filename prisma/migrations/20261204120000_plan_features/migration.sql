-- Features a plan carries (issue 14, point 4): a switch (boolean), a numeric limit, or a config value, one row per
-- plan and feature key, answered by POST /api/v1/entitlements/check. The shape check keeps exactly the kind's value.
CREATE TABLE "plan_features" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "plan_id" UUID NOT NULL,
    "feature" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "enabled" BOOLEAN,
    "limit_value" DECIMAL(20,6),
    "config_value" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "plan_features_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "plan_features_shape" CHECK (
        ("kind" = 'boolean' AND "enabled" IS NOT NULL AND "limit_value" IS NULL AND "config_value" IS NULL)
     OR ("kind" = 'limit' AND "limit_value" IS NOT NULL AND "enabled" IS NULL AND "config_value" IS NULL)
     OR ("kind" = 'config' AND "config_value" IS NOT NULL AND "enabled" IS NULL AND "limit_value" IS NULL))
);

CREATE UNIQUE INDEX "plan_features_plan_id_feature_key" ON "plan_features"("plan_id", "feature");

CREATE INDEX "plan_features_organization_id_feature_idx" ON "plan_features"("organization_id", "feature");

ALTER TABLE "plan_features" ADD CONSTRAINT "plan_features_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

ALTER TABLE "plan_features" ADD CONSTRAINT "plan_features_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
