-- API keys carry scopes (api/scopes.ts): ingest, read, billing, admin. A new key is ingest only.
-- Keys made before scopes existed could do everything, and integrations may rely on that, so they
-- keep every scope here: narrow them with `npm run admin -- set-api-key-scopes` (README, API keys).
ALTER TABLE "api_keys" ADD COLUMN "scopes" TEXT[] NOT NULL DEFAULT ARRAY['ingest']::TEXT[];
UPDATE "api_keys" SET "scopes" = ARRAY['ingest', 'read', 'billing', 'admin']::TEXT[];
