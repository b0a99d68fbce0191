import type { IngestBatchInput } from '../temporal/ingest';
import { auditRow } from '../prisma/audit';
import { rateVendorUsage, toPlainString, type TokenRate, type TokenUsage } from '../billing/token-cost';
import { TX_OPTIONS, type ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

export interface RateEventsResult {
  eventsRated: number;
  /** events with vendor usage lines no rate covered (see `event.rating_incomplete` audit rows) */
  eventsIncomplete: number;
}

interface LinkedEvent {
  id: string;
  timestamp: Date;
  vendor_usage: unknown;
}

/**
 * Rates every linked event of a batch at its own timestamp and marks it
 * `rated`, in one UPDATE … FROM unnest(…).
 *
 * - cost: the sum of the event's vendor usage lines at the rates in effect at
 *   the event's timestamp (0 for an event without vendor usage: it cost us
 *   nothing in tokens). A line with no rate in effect is not priced at zero
 *   silently: cost holds the priced lines only, and the event gets an
 *   `event.rating_incomplete` audit row listing the unpriced lines, in the
 *   same transaction, so the gap is visible and can be re-rated later.
 * - revenue: `revenue_amount` as sent; NULL stays NULL, because "the app
 *   reported no per-event revenue" (priced later by plan) is not "zero revenue".
 *
 * Only `customer_linked` events are touched, so a second run changes nothing.
 */
export function rateEvents({ prisma }: ActivityDeps) {
  return async function rateEvents({ batchId, organizationId }: IngestBatchInput): Promise<RateEventsResult> {
    const actor = workflowActor();
    const events = await prisma.$queryRaw<LinkedEvent[]>`
      SELECT id, timestamp, vendor_usage FROM usage_events
      WHERE batch_id = ${batchId}::uuid AND organization_id = ${organizationId}::uuid AND status = 'customer_linked'`;
    if (events.length === 0) return { eventsRated: 0, eventsIncomplete: 0 };

    const usageById = new Map(events.map((e) => [e.id, parseVendorUsage(e.vendor_usage)]));
    const rates = await loadRates(prisma, organizationId, [...usageById.values()].flatMap((u) => u.lines));

    const ratings = events.map((event) => {
      const usage = usageById.get(event.id) ?? { lines: [], malformed: [] };
      const rated = rateVendorUsage(rates, usage.lines, event.timestamp);
      return { id: event.id, cost: toPlainString(rated.cost), rateIds: rated.rateIds, unpriced: [...rated.unrated, ...usage.malformed] };
    });

    return prisma.$transaction(async (tx) => {
      const updated = await tx.$queryRaw<{ id: string }[]>`
        UPDATE usage_events AS e
        SET status = 'rated',
            cost = r.cost,
            revenue = e.revenue_amount,
            rate_ids = string_to_array(r.rate_ids, ','),
            rated_at = now()
        FROM unnest(
          ${ratings.map((r) => r.id)}::uuid[],
          ${ratings.map((r) => r.cost)}::numeric[],
          ${ratings.map((r) => r.rateIds.join(','))}::text[]
        ) AS r(id, cost, rate_ids)
        WHERE e.id = r.id
          AND e.batch_id = ${batchId}::uuid
          AND e.organization_id = ${organizationId}::uuid
          AND e.status = 'customer_linked'
        RETURNING e.id`;
      const updatedIds = new Set(updated.map((row) => row.id));
      const incomplete = ratings.filter((r) => r.unpriced.length > 0 && updatedIds.has(r.id));
      if (incomplete.length > 0) {
        await tx.auditLog.createMany({
          data: incomplete.map((r) =>
            auditRow({
              organizationId,
              actor,
              action: 'event.rating_incomplete',
              entityType: 'usage_event',
              entityId: r.id,
              after: { pricedCost: r.cost, rateIds: r.rateIds, unpricedLines: r.unpriced as object[] },
            }),
          ),
        });
      }
      return { eventsRated: updated.length, eventsIncomplete: incomplete.length };
    }, TX_OPTIONS);
  };
}

/** The organization's rates for the vendor/model pairs the batch uses, all effective periods. */
async function loadRates(prisma: ActivityDeps['prisma'], organizationId: string, lines: TokenUsage[]): Promise<TokenRate[]> {
  const pairs = [...new Map(lines.map((l) => [`${l.vendor}\u0000${l.model}`, { vendor: l.vendor, model: l.model }])).values()];
  if (pairs.length === 0) return [];
  const rows = await prisma.vendorRate.findMany({ where: { organizationId, OR: pairs } });
  return rows.map((row) => ({
    id: row.id,
    vendor: row.vendor,
    model: row.model,
    currency: row.currency,
    inputPerMillionTokens: row.inputPerMillionTokens.toString(),
    outputPerMillionTokens: row.outputPerMillionTokens.toString(),
    effectiveFrom: row.effectiveFrom,
    effectiveTo: row.effectiveTo,
  }));
}

/**
 * The API validates vendor_usage before storing it; a line that still does
 * not have the expected shape is reported as unpriced rather than failing the
 * whole batch or being priced at zero.
 */
function parseVendorUsage(value: unknown): { lines: TokenUsage[]; malformed: unknown[] } {
  const lines: TokenUsage[] = [];
  const malformed: unknown[] = [];
  for (const line of Array.isArray(value) ? value : [value]) {
    if (isTokenUsage(line)) lines.push(line);
    else malformed.push(line);
  }
  return { lines, malformed };
}

function isTokenUsage(line: unknown): line is TokenUsage {
  if (typeof line !== 'object' || line === null) return false;
  const l = line as Record<string, unknown>;
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  return typeof l.vendor === 'string' && typeof l.model === 'string' && count(l.input_tokens) && count(l.output_tokens);
}
