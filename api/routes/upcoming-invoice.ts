import { monthIndex, periodContaining, type BillingPeriod } from '../../billing/billing-period';
import { formatMoney, toStripeAmount } from '../../billing/currency';
import { toPlainString } from '../../billing/decimal';
import { billedOf, draftInput, groupLateEvents, lateGroupsToBill, lateMeter, lateUsage, meterUsage, periodPlans, pricedMeter } from '../../billing/draft-inputs';
import { draftInvoice, type Draft, type DraftLine, type LateUsage } from '../../billing/invoice-draft';
import {
  findCustomerByAnyId,
  readBilledUsage,
  readCustomerSubscriptions,
  readPeriodStandings,
  readPeriodsBilledWhole,
  readUnbilledEvents,
  readPlanChanges,
  readPlanPrices,
  latePricing,
  type Db,
  type LatePricing,
  type SubscriptionTerms,
} from '../../prisma/billing-reads';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { asBilled, pricedSegments, type PricedSegment } from '../../billing/usage-segments';
import { aggregateUsage } from '../../prisma/usage-aggregates';
import { billableFor, meterRef, unbilledFor } from '../../prisma/usage-claims';

/*
 * What each of a customer's subscriptions would bill if its current period
 * closed now. Composed exactly as the close-period activity composes the
 * draft (billing/draft-inputs.ts, billing/invoice-draft.ts), but only reading:
 * no event is claimed and no snapshot written, so asking changes nothing.
 */

/** The period that would close, or null when the subscription has nothing to bill now (not started, or canceled before this period). */
function currentPeriod(s: SubscriptionTerms, now: Date): BillingPeriod | null {
  if (s.startDate > now) return null;
  const period = periodContaining(now, s.billingAnchorDay, s.plan.interval, monthIndex(s.startDate));
  // A subscription that ended at the previous period's end has canceledAt == period.start: nothing left here.
  if (s.status === 'canceled' && !(s.canceledAt && s.canceledAt > period.start)) return null;
  return period;
}

/**
 * Events of earlier, closed periods that no invoice has billed yet: the next
 * close bills them as late usage (billing/draft-inputs.ts lateGroupsToBill
 * says which).
 */
async function lateUsages(
  db: Db,
  s: SubscriptionTerms,
  stretchesOf: (period: BillingPeriod) => PricedSegment[],
  priced: LatePricing,
  period: BillingPeriod,
): Promise<LateUsage[]> {
  if (s.startDate >= period.start) return [];
  const scope = { organizationId: s.organizationId, customerExternalId: s.customer.externalId };
  const rows = await readUnbilledEvents(db, { ...scope, ...priced, from: s.startDate, to: period.start });
  if (rows.length === 0) return [];
  const ref = { organizationId: s.organizationId, subscriptionId: s.id };
  const [standings, billedWhole] = [await readPeriodStandings(db, ref), await readPeriodsBilledWhole(db, ref)];
  const groups = lateGroupsToBill(
    groupLateEvents(s, asBilled(stretchesOf, billedWhole), rows),
    standings,
  );
  const late: LateUsage[] = [];
  for (const g of groups) {
    const stretch = g.stretch ?? g.period;
    const meter = lateMeter(g);
    const now = await aggregateUsage(db, meter, { ...scope, eventType: meter.eventType, ranges: [stretch], where: billableFor(meterRef(meter.id)) });
    const billed = billedOf(await readBilledUsage(db, { organizationId: s.organizationId, subscriptionId: s.id, periodStart: stretch.start }), g);
    late.push(lateUsage(g, now, billed?._sum, []));
  }
  return late;
}

async function previewPeriod(db: Db, s: SubscriptionTerms, period: BillingPeriod): Promise<{ draft: Draft; meterKeys: Map<string, string> }> {
  const changes = await readPlanChanges(db, s.id);
  const plans = periodPlans(s, changes, period);
  // Priced per stretch between plan changes, as the close prices them (billing/usage-segments.ts).
  const planIds = new Set([s.plan.id, ...changes.flatMap((c) => [c.fromPlan.id, c.toPlan.id])]);
  const pricesByPlan = new Map(await Promise.all([...planIds].map(async (id) => [id, await readPlanPrices(db, id)] as const)));
  const stretchesOf = pricedSegments(s.plan, changes, s.startDate, pricesByPlan);
  const segments = stretchesOf(period);
  const allPrices = [...pricesByPlan.values()].flat();
  const scope = { organizationId: s.organizationId, customerExternalId: s.customer.externalId };
  const usage = [];
  for (const segment of segments) {
    for (const p of segment.prices) {
      const meter = pricedMeter(p, segment.prices);
      const { quantity, credited } = await aggregateUsage(db, meter, { ...scope, eventType: meter.eventType, ranges: [segment], where: unbilledFor(meterRef(meter.id)) });
      usage.push({ ...meterUsage(p, segment.prices, quantity, [], credited), ...(segments.length > 1 ? { segment: { start: segment.start, end: segment.end, planName: segment.plan.name } } : {}) });
    }
  }
  const late = await lateUsages(db, s, stretchesOf, latePricing(allPrices), period);
  return { draft: draftInvoice(draftInput(s, period, plans, usage, late)), meterKeys: new Map(allPrices.map((p) => [p.meter.id, p.meter.key])) };
}

function lineJson(line: DraftLine, currency: string, meterKeys: Map<string, string>) {
  return {
    kind: line.kind,
    description: line.description,
    meter: line.meterId === null ? null : (meterKeys.get(line.meterId) ?? null),
    dimension_value: line.dimensionValue,
    quantity: line.quantity === null ? null : toPlainString(line.quantity),
    credited_quantity: line.creditedQuantity === null ? null : toPlainString(line.creditedQuantity),
    included_units: line.includedUnits === null ? null : toPlainString(line.includedUnits),
    amount: formatMoney(line.amount, currency),
    tiers: line.tiers.map((t) => ({
      from: toPlainString(t.from),
      to: t.to === null ? null : toPlainString(t.to),
      quantity: toPlainString(t.quantity),
      unit_amount: toPlainString(t.unitAmount),
      flat_amount: toPlainString(t.flatAmount),
      amount: formatMoney(t.amount, currency),
    })),
    period_start: line.periodStart.toISOString(),
    period_end: line.periodEnd.toISOString(),
  };
}

/** GET /customers/:id/upcoming-invoice (`:id`: the external id, or the customer's id). */
export async function upcomingInvoice(deps: Pick<ApiDeps, 'prisma'>, organizationId: string, id: string) {
  const now = new Date();
  // One snapshot of the data for every read, so a close running meanwhile is seen wholly or not at all.
  const body = await deps.prisma.$transaction(
    async (tx) => {
      const customer = await findCustomerByAnyId(tx, organizationId, id);
      if (!customer) throw new ApiError(404, 'NOT_FOUND', `No customer ${id}`);
      const subscriptions = [];
      for (const s of await readCustomerSubscriptions(tx, organizationId, customer.id)) {
        const period = currentPeriod(s, now);
        if (!period) continue;
        const { draft, meterKeys } = await previewPeriod(tx, s, period);
        const currency = s.plan.currency;
        subscriptions.push({
          subscription_id: s.id,
          plan: s.plan.key,
          status: s.status,
          cancel_at_period_end: s.cancelAtPeriodEnd,
          currency,
          period_start: period.start.toISOString(),
          period_end: period.end.toISOString(),
          lines: draft.lines.map((l) => lineJson(l, currency, meterKeys)),
          total: formatMoney(draft.total, currency),
          total_minor: toStripeAmount(draft.total, currency),
        });
      }
      return { customer_id: customer.id, customer_external_id: customer.externalId, as_of: now.toISOString(), subscriptions };
    },
    { isolationLevel: 'RepeatableRead', maxWait: 10_000, timeout: 30_000 },
  );
  return body;
}
