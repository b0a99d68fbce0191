-- Prepaid credits on invoices (issue 15, points 4 and 7). Each event a batch burned credits for keeps what it burned,
-- written by rating's one UPDATE of the event (no second write): the credits it cost (credits), the part its wallet
-- could not cover (credits_uncovered) and the meters whose burn rates priced it (credit_meter_ids). An event that
-- burned nothing keeps nulls and no meters. A close bills a meter's usage net of what credits covered: for a meter an event burned
-- for, only its uncovered share (credits_uncovered / credits of its units), which is the invoice's overage.
ALTER TABLE "usage_events" ADD COLUMN "credits" DECIMAL(20,6);
ALTER TABLE "usage_events" ADD COLUMN "credits_uncovered" DECIMAL(20,6);
ALTER TABLE "usage_events" ADD COLUMN "credit_meter_ids" UUID[] NOT NULL DEFAULT '{}';
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_credits_consistent" CHECK (
    ("credits" IS NULL AND "credits_uncovered" IS NULL AND "credit_meter_ids" = '{}')
    OR ("credits" >= 0 AND "credits_uncovered" >= 0 AND "credits_uncovered" <= "credits" AND "credit_meter_ids" <> '{}')
);

-- A usage or late-usage line's units that prepaid credits covered: its quantity is what it bills (the remainder),
-- quantity + credited_quantity what was used. Null on lines credits did not touch.
ALTER TABLE "invoice_lines" ADD COLUMN "credited_quantity" DECIMAL(20,6);

-- A plan whose customers pay for usage with prepaid credits only: the entitlement check refuses usage their wallet
-- cannot cover.
ALTER TABLE "plans" ADD COLUMN "prepaid_only" BOOLEAN NOT NULL DEFAULT false;
