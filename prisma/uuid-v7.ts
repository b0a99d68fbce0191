import { randomUUID } from 'node:crypto';

/**
 * A UUIDv7 (RFC 9562: 48-bit Unix milliseconds, then random bits) made by
 * PostgreSQL, for rows written in bulk: ids that grow with time go to the
 * right-hand end of the primary key's B-tree, so a 1,000-row batch touches a
 * few index pages instead of ~1,000 random ones (each a full-page image in
 * the WAL after a checkpoint). An expression rather than PostgreSQL 18's
 * uuidv7(), so it also runs on the PostgreSQL 16 of docker-compose.yml: a
 * v4 UUID with its first 48 bits replaced by the clock and its version
 * nibble turned from 4 into 7.
 */
export const UUID_V7_SQL =
  "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid";

/**
 * The same layout made in Node, for ids the API hands out before the
 * database sees them (a request's batch_id): RFC 9562 version 7, the first
 * 48 bits the Unix time in milliseconds, the rest random.
 */
export function v7(now: number = Date.now()): string {
  // randomUUID draws from a cached entropy pool (no OpenSSL call per id); its
  // first 12 hex digits become the time, its version digit a 7. The variant
  // bits it already has are RFC 9562's.
  const random = randomUUID();
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
