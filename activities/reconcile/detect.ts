import { dec, toPlainString, type Dec } from '../../billing/decimal';
import {
  BILLABLE_KINDS,
  confidence,
  missedOverage,
  renewalDrift,
  staleRating,
  unbilledUsage,
  underReportedUsage,
  type ConfidenceSignals,
  type LeakAmounts,
  type LeakKind,
} from '../../billing/leaks';
import type { PriceModel } from '../../billing/price-models';
import { priceFromRow } from '../../billing/stored-price';
import type { TokenRate, TokenUsage } from '../../billing/token-cost';
import { writeAudit, type AuditActor } from '../../prisma/audit';
import { BILLED_INVOICE } from '../../prisma/billed-invoices';
import type { Db } from '../../prisma/billing-reads';
import { Prisma } from '../../prisma/client';
import { tokenRateOf } from '../../prisma/vendor-rates';
import { billableQuantitySql, EVENT_CREDITS_JOIN, quantityOf, quantitySql, sliceSql } from '../../prisma/usage-aggregates';
import { billedByLines, coveredByClaim, heldFor, meterRef } from '../../prisma/usage-claims';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';
import { meterOf, pricedMeter, type MeterRef } from '../../billing/draft-inputs';
import { pricedSegments } from '../../billing/usage-segments';

export interface DetectLeaksInput {
  organizationId: string;
  runId: string;
  periodStart: string;
  periodEnd: string;
}

/** An open finding the workflow takes recovery actions for. */
export interface OpenFinding {
  findingId: string;
  kind: LeakKind;
  /** a customer owes it: a Stripe draft can recover it */
  billable: boolean;
}

export interface DetectLeaksResult {
  detected: number;
  recovered: number;
  open: OpenFinding[];
}

interface Candidate {
  kind: LeakKind;
  customerId: string | null;
  customerExternalId: string;
  periodStart: Date;
  periodEnd: Date;
  subject: string;
  currency: string;
  amounts: LeakAmounts;
  signals: ConfidenceSignals;
}

/** How many events a finding rests on, and how many of them arrived late or unlinked. */
interface EventCounts {
  events: number;
  /** received after the invoice was drafted: the close could not have billed them */
  lateEvents: number;
  unlinkedEvents: number;
}
const NO_EVENTS: EventCounts = { events: 0, lateEvents: 0, unlinkedEvents: 0 };

interface StretchUsage {
  /** what was used, prepaid credits or not (what the app's own reports count) */
  usedQuantity: Dec;
  /** what an invoice would bill: used less what prepaid credits covered */
  totalQuantity: Dec;
  /** over events some invoice line bills */
  billedQuantity: Dec;
  /** over events the given lines bill */
  claimedQuantity: Dec;
  all: EventCounts;
  unbilled: EventCounts;
  claimed: EventCounts;
}

/**
 * One customer's usage of a meter in a stretch as PostgreSQL aggregates it
 * (prisma/usage-aggregates.ts): in all, billed by any line, billed by
 * `lineIds`, each net of what prepaid credits covered (an invoice never
 * bills that); with the counts a finding's confidence rests on. One
 * statement, no event rows in Node.
 */
async function stretchUsage(
  db: Db,
  meter: MeterRef,
  q: { organizationId: string; customerExternalId: string; stretch: { start: Date; end: Date }; lineIds: readonly string[]; closedAt: Date },
): Promise<StretchUsage> {
  const billed = Prisma.sql`e.billed`;
  const claimed = Prisma.sql`e.claimed`;
  const counts = (subset: Prisma.Sql) => Prisma.sql`
    count(*) FILTER (WHERE ${subset})::int, count(*) FILTER (WHERE ${subset} AND e.received_at > ${q.closedAt})::int, count(*) FILTER (WHERE ${subset} AND e.customer_id IS NULL)::int`;
  const [row] = await db.$queryRaw<{ used: string | null; total: string | null; billed: string | null; claimed: string | null; counts: number[] }[]>`
    SELECT ${quantitySql(meter)} AS used, ${billableQuantitySql(meter)} AS total, ${billableQuantitySql(meter, billed)} AS billed, ${billableQuantitySql(meter, claimed)} AS claimed,
           ARRAY[${counts(Prisma.sql`true`)}, ${counts(Prisma.sql`NOT e.billed`)}, ${counts(claimed)}] AS counts
    FROM (
      SELECT e.id, e.quantity, e."timestamp", e.properties, e.received_at, e.customer_id, e.credits_covered,
             (${heldFor(meterRef(meter.id))} OR ${coveredByClaim({ meter: meterRef(meter.id) })}) AS billed, ${billedByLines(q.lineIds)} AS claimed
      FROM usage_events e
      WHERE e.organization_id = ${q.organizationId}::uuid AND e.customer_external_id = ${q.customerExternalId}
        AND e.event_type = ${meter.eventType} AND e."timestamp" >= ${q.stretch.start} AND e."timestamp" < ${q.stretch.end} AND ${sliceSql(meter.slice)}
    ) e ${EVENT_CREDITS_JOIN}`;
  const c = row!.counts;
  const at = (i: number): EventCounts => ({ events: c[i]!, lateEvents: c[i + 1]!, unlinkedEvents: c[i + 2]! });
  return {
    usedQuantity: quantityOf(meter, row!.used),
    totalQuantity: quantityOf(meter, row!.total),
    billedQuantity: quantityOf(meter, row!.billed),
    claimedQuantity: quantityOf(meter, row!.claimed),
    all: at(0),
    unbilled: at(3),
    claimed: at(6),
  };
}

/**
 * Finds every kind of leak for the invoices whose period starts in the
 * window (and the window's reported usage and rated events), then upserts
 * them on their natural key: a re-run updates amounts and confidence, never
 * adds a second finding, and keeps the status people gave it. An actioned
 * finding the run no longer detects is marked recovered. New findings and
 * status changes each get an audit row in their transaction.
 */
export function detectLeaks({ prisma }: ActivityDeps) {
  return async function detectLeaks(input: DetectLeaksInput): Promise<DetectLeaksResult> {
    const actor = workflowActor();
    const window = { start: new Date(input.periodStart), end: new Date(input.periodEnd) };
    const candidates = [
      ...(await invoiceLeaks(prisma, input.organizationId, window)),
      ...(await reportedUsageLeaks(prisma, input.organizationId, window)),
      ...(await staleRatingLeaks(prisma, input.organizationId, window)),
    ];
    const recovered = await recoveredAmounts(prisma, input.organizationId, window);
    const ids = new Set<string>();
    for (const found of candidates) {
      const c = lessRecovered(found, recovered);
      if (c) ids.add(await upsertFinding(prisma, input, c, actor));
    }
    const recoveredCount = await markRecovered(prisma, input.organizationId, window, ids, actor);
    const open = await prisma.leakFinding.findMany({
      where: { organizationId: input.organizationId, id: { in: [...ids] }, status: 'open' },
      orderBy: [{ kind: 'asc' }, { customerExternalId: 'asc' }, { subject: 'asc' }],
      select: { id: true, kind: true },
    });
    return {
      detected: ids.size,
      recovered: recoveredCount,
      open: open.map((f) => ({ findingId: f.id, kind: f.kind as LeakKind, billable: BILLABLE_KINDS.has(f.kind as LeakKind) })),
    };
  };
}

async function invoiceLeaks(db: Db, organizationId: string, window: { start: Date; end: Date }): Promise<Candidate[]> {
  const invoices = await db.invoice.findMany({
    where: { organizationId, kind: 'period', periodStart: { gte: window.start, lt: window.end }, ...BILLED_INVOICE },
    include: {
      lines: true,
      customer: { select: { id: true, externalId: true, stripeCustomerId: true } },
      subscription: {
        select: {
          startDate: true,
          contractedBaseFee: true,
          plan: { select: { id: true, name: true, baseFee: true, prices: { include: { meter: true } } } },
          planChanges: {
            include: { fromPlan: { include: { prices: { include: { meter: true } } } }, toPlan: { include: { prices: { include: { meter: true } } } } },
            orderBy: [{ effectiveAt: 'asc' }, { createdAt: 'asc' }],
          },
        },
      },
    },
    orderBy: [{ periodStart: 'asc' }, { id: 'asc' }],
  });
  const found: Candidate[] = [];
  for (const invoice of invoices) {
    const { customer, subscription: sub } = invoice;
    const base = { customerId: customer.id, customerExternalId: customer.externalId, periodStart: invoice.periodStart, periodEnd: invoice.periodEnd, currency: invoice.currency };
    const signals = (counts: EventCounts): ConfidenceSignals => ({ ...counts, stripeMapped: customer.stripeCustomerId !== null });
    // Each stretch of the period is priced by the plan in effect during it (billing/usage-segments.ts), as the close priced it.
    const pricesByPlan = new Map([sub.plan, ...sub.planChanges.flatMap((c) => [c.fromPlan, c.toPlan])].map((p) => [p.id, p.prices]));
    const stretches = pricedSegments(sub.plan, sub.planChanges, sub.startDate, pricesByPlan)({ start: invoice.periodStart, end: invoice.periodEnd });
    for (const stretch of stretches) {
      for (const row of stretch.prices as (typeof sub.plan.prices)[number][]) {
        const meter = pricedMeter(row, stretch.prices);
        const price: PriceModel = priceFromRow(row);
        const lines = invoice.lines.filter(
          (l) => l.meterId === meter.id && l.dimensionValue === row.dimensionValue && l.kind === 'usage' && l.periodStart.getTime() === stretch.start.getTime(),
        );
        const usage = await stretchUsage(db, meter, { organizationId, customerExternalId: customer.externalId, stretch, lineIds: lines.map((l) => l.id), closedAt: invoice.createdAt });
        // One finding per price and stretch: a dimensional meter's slice names its value (`tokens[gpt-4o]`, the default `tokens[*]`),
        // and a split period the stretch it is about.
        const slice = meter.slice ? `[${meter.slice.value ?? '*'}]` : '';
        const subject = `${row.meter.key}${slice}${stretches.length > 1 ? `#${stretch.start.toISOString().slice(0, 10)}` : ''}`;
        const unbilledAmounts =
          usage.unbilled.events > 0 && unbilledUsage({ price, currency: invoice.currency, billedQuantity: usage.billedQuantity, totalQuantity: usage.totalQuantity });
        if (unbilledAmounts) found.push({ ...base, kind: 'unbilled_usage', subject, amounts: unbilledAmounts, signals: signals(usage.unbilled) });
        const overage =
          usage.claimed.events > 0 && missedOverage({ price, currency: invoice.currency, claimedQuantity: usage.claimedQuantity, lineAmounts: lines.map((l) => dec(l.amount)) });
        if (overage) found.push({ ...base, kind: 'missed_overage', subject, amounts: overage, signals: signals(usage.claimed) });
      }
    }
    // Renewal drift: a renewal (not the subscription's first period) billed a full period with no proration lines.
    const renewal = invoice.periodStart.getTime() > sub.startDate.getTime() && !invoice.lines.some((l) => l.kind === 'proration_charge' || l.kind === 'proration_credit');
    const feeLines = invoice.lines.filter((l) => l.kind === 'base_fee');
    const drift =
      renewal &&
      feeLines.length > 0 &&
      renewalDrift({
        currency: invoice.currency,
        // the fee of the plan the period was on, not the subscription's plan now (it may have changed since)
        planBaseFee: dec(stretches[0]!.plan.baseFee.toString()),
        contractedFee: sub.contractedBaseFee === null ? null : dec(sub.contractedBaseFee),
        baseFeeLines: feeLines.map((l) => dec(l.amount)),
      });
    if (drift) found.push({ ...base, kind: 'renewal_drift', subject: sub.contractedBaseFee === null ? 'base_fee' : 'contracted_base_fee', amounts: drift, signals: signals(NO_EVENTS) });
  }
  return found;
}

/** Usage reported elsewhere for one customer, meter and period, by one source. */
interface Report {
  customerExternalId: string;
  meterKey: string;
  /** a time inside the period (the reported period's start; a Stripe line's period start) */
  at: Date;
  quantity: Dec;
  source: string;
  /** the source says it left something out (a Stripe invoice whose lines were truncated) */
  incomplete?: boolean;
}

/** Quantities the organization reported through POST /reported-usage for periods starting in the window. */
async function readReportedUsage(db: Db, organizationId: string, window: { start: Date; end: Date }): Promise<Report[]> {
  const rows = await db.reportedUsage.findMany({
    where: { organizationId, periodStart: { gte: window.start, lt: window.end } },
    orderBy: [{ customerExternalId: 'asc' }, { meterKey: 'asc' }, { source: 'asc' }],
  });
  return rows.map((r) => ({ customerExternalId: r.customerExternalId, meterKey: r.meterKey, at: r.periodStart, quantity: dec(r.quantity), source: r.source }));
}

interface StripeLineRow {
  customer_external_id: string;
  meter_key: string;
  quantity: string;
  line_start: Date;
  truncated: boolean;
}

/**
 * Quantities on the customer's Stripe invoices (the latest stored
 * invoice.finalized / invoice.paid webhook of each), for lines whose price
 * is a meter's stripe_price_id and whose service period starts in the
 * window. Ledgerflow's own invoices (finalized in Stripe by a billing run)
 * are left out: they bill what Ledgerflow metered, so they report nothing.
 * The price sits in `price.id` (API versions before 2025-03-31),
 * `pricing.price_details.price` (later ones) or `plan.id` (legacy plans).
 */
async function readStripeInvoiceUsage(db: Db, organizationId: string, window: { start: Date; end: Date }): Promise<Report[]> {
  const rows = await db.$queryRaw<StripeLineRow[]>`
    WITH latest AS (
      SELECT DISTINCT ON (e.payload->'data'->'object'->>'id') e.payload->'data'->'object' AS obj
        FROM stripe_events e
       WHERE e.organization_id = ${organizationId}::uuid AND e.type IN ('invoice.paid', 'invoice.finalized')
       ORDER BY e.payload->'data'->'object'->>'id', (e.type = 'invoice.paid') DESC, e.received_at DESC
    ), lines AS (
      SELECT i.obj, line, COALESCE(i.obj->'lines'->>'has_more', 'false') = 'true' AS truncated
        FROM latest i CROSS JOIN LATERAL jsonb_array_elements(COALESCE(i.obj->'lines'->'data', '[]'::jsonb)) AS line
       WHERE NOT COALESCE(i.obj->'metadata' ? 'ledgerflow_invoice_id', false)
         AND i.obj->>'id' NOT IN (SELECT stripe_invoice_id FROM invoices WHERE organization_id = ${organizationId}::uuid AND stripe_invoice_id IS NOT NULL)
         AND jsonb_typeof(line->'quantity') = 'number' AND jsonb_typeof(line->'period'->'start') = 'number'
    )
    SELECT c.external_id AS customer_external_id, m.key AS meter_key, (l.line->>'quantity') AS quantity,
           to_timestamp((l.line->'period'->>'start')::float8) AS line_start, l.truncated
      FROM lines l
      JOIN customers c ON c.organization_id = ${organizationId}::uuid
                      AND c.stripe_customer_id = COALESCE(l.obj->'customer'->>'id', l.obj->>'customer')
      JOIN meters m ON m.organization_id = ${organizationId}::uuid
                   AND m.stripe_price_id = COALESCE(l.line->'price'->>'id', l.line->'pricing'->'price_details'->>'price', l.line->'plan'->>'id')
     WHERE to_timestamp((l.line->'period'->>'start')::float8) >= ${window.start}
       AND to_timestamp((l.line->'period'->>'start')::float8) < ${window.end}
     ORDER BY 1, 2, 4`;
  return rows.map((r) => ({ customerExternalId: r.customer_external_id, meterKey: r.meter_key, at: r.line_start, quantity: dec(r.quantity), source: STRIPE_SOURCE, incomplete: r.truncated }));
}

/** The source name of quantities read from Stripe invoices (a finding's subject is `<meter>@stripe`). */
export const STRIPE_SOURCE = 'stripe';

/**
 * Under-reported usage: each source's quantity for a customer, meter and
 * closed period (one that has a period invoice) against what Ledgerflow
 * metered for it. A source's rows for the same period add up (several
 * Stripe invoices, or lines, may cover one period).
 */
async function reportedUsageLeaks(db: Db, organizationId: string, window: { start: Date; end: Date }): Promise<Candidate[]> {
  const reports = [...(await readReportedUsage(db, organizationId, window)), ...(await readStripeInvoiceUsage(db, organizationId, window))];
  const invoices = await db.invoice.findMany({
    where: { organizationId, kind: 'period', periodStart: { lt: window.end }, periodEnd: { gt: window.start }, ...BILLED_INVOICE, customer: { externalId: { in: [...new Set(reports.map((r) => r.customerExternalId))] } } },
    include: {
      customer: { select: { id: true, externalId: true, stripeCustomerId: true } },
      subscription: { select: { plan: { select: { prices: { include: { meter: true } } } } } },
    },
    orderBy: [{ periodStart: 'asc' }, { id: 'asc' }],
  });
  // One comparison per (invoice, meter, source): the period invoice whose period holds the report.
  const groups = new Map<string, { invoice: (typeof invoices)[number]; meterKey: string; source: string; quantity: Dec; incomplete: boolean }>();
  for (const r of reports) {
    const invoice = invoices.find((i) => i.customer.externalId === r.customerExternalId && i.periodStart <= r.at && r.at < i.periodEnd && i.periodStart >= window.start);
    if (!invoice) continue;
    const key = `${invoice.id}\n${r.meterKey}\n${r.source}`;
    const group = groups.get(key);
    if (group) {
      group.quantity = group.quantity.plus(r.quantity);
      group.incomplete ||= !!r.incomplete;
    } else groups.set(key, { invoice, meterKey: r.meterKey, source: r.source, quantity: r.quantity, incomplete: !!r.incomplete });
  }
  const found: Candidate[] = [];
  for (const { invoice, meterKey, source, quantity, incomplete } of groups.values()) {
    const prices = invoice.subscription.plan.prices;
    // A report counts the whole meter: for a meter with a dimension, the difference is valued at the plan's default price
    // (the report says nothing of which values it left out).
    const row = prices.find((p) => p.meter.key === meterKey && p.dimensionValue === null) ?? prices.find((p) => p.meter.key === meterKey);
    if (!row) continue;
    const meter = meterOf(row.meter);
    const metered = await stretchUsage(db, meter, {
      organizationId,
      customerExternalId: invoice.customer.externalId,
      stretch: { start: invoice.periodStart, end: invoice.periodEnd },
      lineIds: [],
      closedAt: invoice.createdAt,
    });
    const amounts = underReportedUsage({ price: priceFromRow(row), currency: invoice.currency, meteredQuantity: metered.usedQuantity, reportedQuantity: quantity });
    if (!amounts) continue;
    // Partial: the source reported some of the meters it can report for this period, not all (Stripe reports only meters with a Stripe price).
    const reportable = prices.filter((p) => source !== STRIPE_SOURCE || p.meter.stripePriceId !== null).map((p) => p.meter.key);
    const reported = new Set([...groups.values()].filter((g) => g.invoice.id === invoice.id && g.source === source).map((g) => g.meterKey));
    found.push({
      kind: 'under_reported_usage',
      customerId: invoice.customer.id,
      customerExternalId: invoice.customer.externalId,
      periodStart: invoice.periodStart,
      periodEnd: invoice.periodEnd,
      subject: `${meterKey}@${source}`,
      currency: invoice.currency,
      amounts,
      signals: {
        ...metered.all,
        stripeMapped: invoice.customer.stripeCustomerId !== null,
        partialReport: incomplete || reportable.some((key) => !reported.has(key)),
      },
    });
  }
  return found;
}

interface RatedRow {
  id: string;
  customer_external_id: string;
  customer_id: string | null;
  timestamp: Date;
  vendor_usage: TokenUsage[];
  rate_ids: string[];
  cost: Prisma.Decimal;
}

/** Rated events in the window whose recorded rates were not in effect at their timestamp, per customer and currency. */
async function staleRatingLeaks(db: Db, organizationId: string, window: { start: Date; end: Date }): Promise<Candidate[]> {
  const rows = await db.$queryRaw<RatedRow[]>`
    SELECT id, customer_external_id, customer_id, timestamp, vendor_usage, rate_ids, cost FROM usage_events
    WHERE organization_id = ${organizationId}::uuid AND status = 'rated' AND cardinality(rate_ids) > 0 AND cost IS NOT NULL
      AND timestamp >= ${window.start} AND timestamp < ${window.end}
    ORDER BY customer_external_id, timestamp, id`;
  if (rows.length === 0) return [];
  const rates: TokenRate[] = (await db.vendorRate.findMany({ where: { organizationId } })).map(tokenRateOf);
  const currencyOf = new Map(rates.map((r) => [r.id, r.currency]));
  const groups = new Map<string, RatedRow[]>();
  for (const row of rows) {
    const key = `${row.customer_external_id}\n${currencyOf.get(row.rate_ids[0]!) ?? 'usd'}`;
    const list = groups.get(key);
    if (list) list.push(row);
    else groups.set(key, [row]);
  }
  const found: Candidate[] = [];
  for (const [key, events] of groups) {
    const [customerExternalId, currency] = key.split('\n') as [string, string];
    const stale = staleRating(rates, events.map((e) => ({ timestamp: e.timestamp, vendorUsage: e.vendor_usage, rateIds: e.rate_ids, cost: dec(e.cost) })));
    if (!stale) continue;
    const customer = await db.customer.findUnique({ where: { organizationId_externalId: { organizationId, externalId: customerExternalId } }, select: { id: true, stripeCustomerId: true } });
    found.push({
      kind: 'stale_rating',
      customerId: customer?.id ?? null,
      customerExternalId,
      periodStart: window.start,
      periodEnd: window.end,
      subject: 'vendor_cost',
      currency,
      amounts: stale,
      signals: { events: events.length, lateEvents: 0, unlinkedEvents: events.filter((e) => e.customer_id === null).length, stripeMapped: customer?.stripeCustomerId != null },
    });
  }
  return found;
}

const naturalKey = (f: { kind: string; customerExternalId: string; periodStart: Date; subject: string }) => `${f.kind}\n${f.customerExternalId}\n${f.periodStart.toISOString()}\n${f.subject}`;

/**
 * What recovery invoices already billed, per finding (by its natural key):
 * those finalized in Stripe or paid. A draft, approved-only or rejected
 * recovery has billed nothing yet.
 */
async function recoveredAmounts(db: Db, organizationId: string, window: { start: Date; end: Date }): Promise<Map<string, Dec>> {
  const invoices = await db.invoice.findMany({
    where: { organizationId, kind: 'recovery', status: { in: ['finalized', 'paid'] }, periodStart: { gte: window.start, lt: window.end } },
    select: { recoveryFindingId: true, total: true },
  });
  const findings = await db.leakFinding.findMany({ where: { organizationId, id: { in: invoices.map((i) => i.recoveryFindingId) } } });
  const byId = new Map(findings.map((f) => [f.id, naturalKey(f)]));
  const amounts = new Map<string, Dec>();
  for (const i of invoices) {
    const key = byId.get(i.recoveryFindingId);
    if (key) amounts.set(key, (amounts.get(key) ?? dec(0)).plus(dec(i.total)));
  }
  return amounts;
}

/** A candidate with its recovery invoices counted as billed; null once they cover the leak (the finding is then recovered). */
function lessRecovered(c: Candidate, recovered: Map<string, Dec>): Candidate | null {
  const amount = recovered.get(naturalKey(c));
  if (!amount) return c;
  const billed = c.amounts.billed.plus(amount);
  const leak = c.amounts.expected.minus(billed);
  return leak.gt(0) ? { ...c, amounts: { expected: c.amounts.expected, billed, leak } } : null;
}

const money = (d: Dec): string => toPlainString(d);

async function upsertFinding(prisma: ActivityDeps['prisma'], input: DetectLeaksInput, c: Candidate, actor: AuditActor): Promise<string> {
  const { value, reasons } = confidence(c.signals);
  const data = {
    runId: input.runId,
    customerId: c.customerId,
    periodEnd: c.periodEnd,
    currency: c.currency,
    expectedAmount: money(c.amounts.expected),
    billedAmount: money(c.amounts.billed),
    leakAmount: money(c.amounts.leak),
    confidence: value.toFixed(3),
    reasons: reasons as unknown as Prisma.InputJsonValue,
  };
  const key = { organizationId: input.organizationId, kind: c.kind, customerExternalId: c.customerExternalId, periodStart: c.periodStart, subject: c.subject };
  return prisma.$transaction(async (tx) => {
    const existing = await tx.leakFinding.findUnique({ where: { organizationId_kind_customerExternalId_periodStart_subject: key }, select: { id: true } });
    if (existing) {
      await tx.leakFinding.update({ where: { id: existing.id }, data });
      return existing.id;
    }
    const created = await tx.leakFinding.create({ data: { ...key, ...data } });
    await writeAudit(tx, {
      organizationId: input.organizationId,
      actor,
      action: 'leak.detected',
      entityType: 'leak_finding',
      entityId: created.id,
      after: { status: 'open', kind: c.kind, customerExternalId: c.customerExternalId, subject: c.subject, leak: data.leakAmount, currency: c.currency, confidence: data.confidence },
    });
    return created.id;
  }, TX_OPTIONS);
}

/** Actioned findings of the window that this run no longer detects: the leak was recovered. */
async function markRecovered(prisma: ActivityDeps['prisma'], organizationId: string, window: { start: Date; end: Date }, detected: Set<string>, actor: AuditActor): Promise<number> {
  const gone = await prisma.leakFinding.findMany({
    where: { organizationId, status: 'actioned', periodStart: { gte: window.start, lt: window.end }, id: { notIn: [...detected] } },
    select: { id: true },
  });
  for (const { id } of gone) {
    await prisma.$transaction(async (tx) => {
      const { count } = await tx.leakFinding.updateMany({ where: { id, status: 'actioned' }, data: { status: 'recovered' } });
      if (count === 0) return;
      await writeAudit(tx, { organizationId, actor, action: 'leak.recovered', entityType: 'leak_finding', entityId: id, before: { status: 'actioned' }, after: { status: 'recovered', reason: 'no longer detected' } });
    }, TX_OPTIONS);
  }
  return gone.length;
}
