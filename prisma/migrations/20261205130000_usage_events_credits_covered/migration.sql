-- An event its wallet covered in full is marked on its own row, by rating's UPDATE (one boolean: the row version stays
-- as narrow as before, so the update stays HOT), instead of a usage_event_credits row per event. bench:credits put
-- those 1,000 inserts per batch at most of what burning still added to the ingest path. A close reads which meters a
-- covered event's credits covered from the burn rates in effect at its timestamp (versioned, never edited, and the
-- meters' dimensions never change), in SQL (prisma/usage-aggregates.ts). usage_event_credits keeps the events a wallet
-- could not cover in full (uncovered above 0), and every row written before this migration, which reads as before.
-- NULL: the event burned nothing, or has a usage_event_credits row.
ALTER TABLE "usage_events" ADD COLUMN "credits_covered" BOOLEAN;
