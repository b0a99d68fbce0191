import { z } from 'zod';
import 'zod-openapi';

const isoDate = z.iso.date();
const isoDateTime = z.iso.datetime({ offset: true });

/**
 * An instant sent as an ISO 8601 date (its UTC midnight, which is also how
 * Date parses it) or a date-time with an offset (Z or ±hh:mm), parsed to a
 * Date. The document says so (a string of format date or date-time), so
 * clients and fuzzers know what is taken.
 */
export function instantInput(description: string, example: string) {
  return z
    .string()
    .transform((s, ctx) => {
      if (!isoDate.safeParse(s).success && !isoDateTime.safeParse(s).success) {
        ctx.issues.push({ code: 'custom', input: s, message: `must be an ISO 8601 date (${example.slice(0, 10)}) or date-time with offset (${example.slice(0, 10)}T00:00:00Z)` });
        return z.NEVER;
      }
      return storableInstant(s, ctx);
    })
    .meta({ description, example, override: { anyOf: [{ format: 'date' }, { format: 'date-time' }] } });
}

/** A date-time with an offset (Z or ±hh:mm), parsed to a Date: for filters compared in SQL. */
export function dateTimeInput(description: string) {
  return isoDateTime.transform((s, ctx) => storableInstant(s, ctx)).meta({ description });
}

/**
 * ISO 8601 allows year 0000 and offsets up to ±23:59; PostgreSQL's
 * timestamptz takes neither (years from 1 AD, offsets to ±15:59). Parsed to
 * a Date first, the offset is applied here; an instant whose UTC year falls
 * outside 0001–9999 (an offset can push one out) is refused.
 */
function storableInstant(s: string, ctx: { issues: unknown[] }): Date {
  const at = new Date(s);
  if (Number.isNaN(at.getTime()) || at.getUTCFullYear() < 1 || at.getUTCFullYear() > 9999) {
    (ctx.issues as object[]).push({ code: 'custom', input: s, message: 'must be an instant in the years 0001 to 9999 (UTC)' });
    return z.NEVER;
  }
  return at;
}
