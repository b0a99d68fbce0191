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
      return new Date(s);
    })
    .meta({ description, example, override: { anyOf: [{ format: 'date' }, { format: 'date-time' }] } });
}
