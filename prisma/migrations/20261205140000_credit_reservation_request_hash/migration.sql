-- A reservation's request as sent (customer, credits or event_type with quantity and properties, expiry), hashed: a
-- repeat with its idempotency key is the same request when the hashes match, however the burn rates changed between
-- the two (the credits an estimate comes to can differ). Null for reservations made before: compared by wallet and
-- credits, as then.
ALTER TABLE "credit_reservations" ADD COLUMN "request_hash" TEXT;
