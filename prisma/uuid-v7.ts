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
