-- Each webhook attempt keeps the URL it was sent to: an endpoint's URL can change while a delivery is retried, and
-- the log must say where every attempt went. Attempts before this column were sent to the endpoint's URL of the time,
-- which is not known, so they read as empty.
ALTER TABLE "webhook_delivery_attempts" ADD COLUMN "url" TEXT NOT NULL DEFAULT '';
