import type { LateEvent } from '../billing/draft-inputs';
import type { InvoiceStatus } from '../billing/invoice-status';
import { billedInvoiceSql } from './billed-invoices';
import { Prisma, type PrismaClient } from './generated/client';
import { planPerCall, type RawDb } from './raw-db';
import { coveredByClaim, heldFor } from './usage-claims';

/**
 * Reads a billing period is drafted from. Plain rows, no rules: the close
 * activity and the upcoming-invoice endpoint both turn them into a draft with
 * billing/draft-inputs.ts. Every read is scoped by organization.
 */
export type Db = PrismaClient | Prisma.TransactionClient;

const subscriptionTerms = {
  customer: { select: { id: true, externalId: true } },
  plan: { select: { id: true, key: true, name: true, baseFee: true, currency: true, interval: true } },
  organization: {
    select: {
      prorationMode: true,
      lateEventGraceSeconds: true,
      approvalReminderHours: true,
      autoApproveAfterHours: true,
      paymentRetryDays: true,
    },
  },
} as const;

export async function readSubscriptionTerms(db: Db, organizationId: string, subscriptionId: string) {
  return db.subscription.findFirst({ where: { id: subscriptionId, organizationId }, include: subscriptionTerms });
}
export type SubscriptionTerms = NonNullable<Awaited<ReturnType<typeof readSubscriptionTerms>>>;

/** A customer's subscriptions (every status), oldest first. */
export async function readCustomerSubscriptions(db: Db, organizationId: string, customerId: string): Promise<SubscriptionTerms[]> {
  return db.subscription.findMany({ where: { organizationId, customerId }, include: subscriptionTerms, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The customer whose external id, or else whose id, this is. */
export async function findCustomerByAnyId(db: Db, organizationId: string, idOrExternalId: string) {
  const byExternalId = await db.customer.findUnique({ where: { organizationId_externalId: { organizationId, externalId: idOrExternalId } } });
  if (byExternalId || !UUID.test(idOrExternalId)) return byExternalId;
  return db.customer.findFirst({ where: { id: idOrExternalId, organizationId } });
}

const planTerms = { select: { id: true, name: true, baseFee: true } } as const;

/** A subscription's plan changes (those taking effect in [from, to) when given), oldest first. */
export async function readPlanChanges(db: Db, subscriptionId: string, range?: { from: Date; to: Date }) {
  return db.subscriptionPlanChange.findMany({
    where: { subscriptionId, ...(range ? { effectiveAt: { gte: range.from, lt: range.to } } : {}) },
    orderBy: [{ effectiveAt: 'asc' }, { createdAt: 'asc' }],
    include: { fromPlan: planTerms, toPlan: planTerms },
  });
}
export type PlanChangeRow = Awaited<ReturnType<typeof readPlanChanges>>[number];

/** A plan's per-meter prices with their meters, in a stable order (by meter key; a meter's default before its values). */
export async function readPlanPrices(db: Db, planId: string) {
  return db.planPrice.findMany({
    where: { planId },
    include: { meter: { select: { id: true, key: true, name: true, eventType: true, aggregation: true, property: true, dimension: true } } },
    orderBy: [{ meter: { key: 'asc' } }, { dimensionValue: { sort: 'asc', nulls: 'first' } }],
  });
}
export type PlanPriceRow = Awaited<ReturnType<typeof readPlanPrices>>[number];

/** An event's values of these dimension properties (as text; null when absent), as the late-usage reads return them (`dimensions`). */
export function dimensionValuesSql(dimensions: readonly string[]): Prisma.Sql {
  if (dimensions.length === 0) return Prisma.sql`NULL::jsonb`;
  return Prisma.sql`(SELECT jsonb_object_agg(k, e.properties ->> k) FROM unnest(${[...dimensions]}::text[]) AS k)`;
}

/** The dimensions the prices' meters have. */
export const pricedDimensions = (prices: Iterable<{ meter: { dimension: string | null } }>): string[] => [...new Set([...prices].flatMap((p) => (p.meter.dimension ? [p.meter.dimension] : [])))];

/** What late usage is read for: the meters any of a subscription's plans prices (each with its event type), and their dimensions. */
export interface LatePricing {
  meters: { id: string; eventType: string }[];
  dimensions: string[];
}

export function latePricing(prices: Iterable<{ meter: { id: string; eventType: string; dimension: string | null } }>): LatePricing {
  const all = [...prices];
  const meters = [...new Map(all.map((p) => [p.meter.id, { id: p.meter.id, eventType: p.meter.eventType }])).values()];
  return { meters, dimensions: pricedDimensions(all) };
}

/**
 * One customer's events in [from, to) that no close saw, once per priced
 * meter of their type that has not billed them yet (prisma/usage-claims.ts
 * unbilledFor): the late usage a close takes. `lock` takes the events' row
 * locks (the close, which claims them).
 */
export async function readUnbilledEvents(
  db: RawDb,
  q: { organizationId: string; customerExternalId: string; from: Date; to: Date } & LatePricing,
  lock = false,
): Promise<LateEvent[]> {
  if (q.meters.length === 0) return [];
  const forUpdate = lock ? Prisma.sql`FOR UPDATE OF e` : Prisma.empty;
  // (a customer's events: planned for each call, prisma/raw-db.ts planPerCall)
  return db.$queryRaw<LateEvent[]>(
    planPerCall(Prisma.sql`
    SELECT e.id, m.meter_id AS "meterId", e.timestamp, ${dimensionValuesSql(q.dimensions)} AS dimensions
    FROM usage_events e
    JOIN LATERAL (SELECT m.meter_id FROM unnest(${q.meters.map((m) => m.id)}::uuid[], ${q.meters.map((m) => m.eventType)}::text[]) AS m(meter_id, event_type)
                  WHERE m.event_type = e.event_type AND NOT ${heldFor(Prisma.sql`m.meter_id`)}) m ON true
    WHERE e.organization_id = ${q.organizationId}::uuid AND e.customer_external_id = ${q.customerExternalId}
      AND e.event_type = ANY(${[...new Set(q.meters.map((m) => m.eventType))]}::text[]) AND e.timestamp >= ${q.from} AND e.timestamp < ${q.to}
      AND NOT ${coveredByClaim()}
    ${forUpdate}`),
  );
}

/**
 * Period starts (ms) of a subscription's periods whose usage was billed as
 * one stretch although a plan change fell inside them (closed before usage
 * was priced per stretch): their late usage is measured the same way.
 */
export async function readPeriodsBilledWhole(db: RawDb, q: { organizationId: string; subscriptionId: string }): Promise<Set<number>> {
  const rows = await db.$queryRaw<{ period_start: Date }[]>`
    SELECT DISTINCT i.period_start FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
    WHERE i.organization_id = ${q.organizationId}::uuid AND i.subscription_id = ${q.subscriptionId}::uuid AND i.kind = 'period'
      AND ${billedInvoiceSql('i')}
      AND l.kind = 'usage' AND l.period_start = i.period_start AND l.period_end = i.period_end`;
  return new Set(rows.map((r) => r.period_start.getTime()));
}

const decimal = (v: string): Prisma.Decimal => new Prisma.Decimal(v);
const decimalOrNull = (v: string | null): Prisma.Decimal | null => (v === null ? null : decimal(v));
const date = (v: string): Date => new Date(v);
const dateOrNull = (v: string | null): Date | null => (v === null ? null : date(v));

/** Where each closed period of a subscription stands: its latest invoice revision's status, by period start (ms). */
export async function readPeriodStandings(db: RawDb, q: { organizationId: string; subscriptionId: string }): Promise<Map<number, InvoiceStatus>> {
  const rows = await db.$queryRaw<{ period_start: Date; status: InvoiceStatus }[]>`
    SELECT period_start, status::text AS status FROM invoices
    WHERE organization_id = ${q.organizationId}::uuid AND subscription_id = ${q.subscriptionId}::uuid AND kind = 'period'
    ORDER BY revision`;
  return new Map(rows.map((r) => [r.period_start.getTime(), r.status]));
}

/** What earlier invoices billed of one meter (one slice of a dimensional one): quantity and amount summed over their lines (null when none). */
export interface BilledUsage {
  meterId: string | null;
  dimensionValue: string | null;
  _sum: { amount: Prisma.Decimal | null; quantity: Prisma.Decimal | null };
}

/**
 * What earlier invoices billed for each meter of one earlier period, or
 * stretch of one (usage and late-usage lines), by the invoices that count as
 * billed (prisma/billed-invoices.ts).
 */
export async function readBilledUsage(db: RawDb, q: { organizationId: string; subscriptionId: string; periodStart: Date }): Promise<BilledUsage[]> {
  // lines of the period, or of its stretch when a plan change split it (both start where it starts)
  const rows = await db.$queryRaw<{ meter_id: string | null; dimension_value: string | null; amount: string | null; quantity: string | null; credited: string | null }[]>`
    SELECT l.meter_id, l.dimension_value, sum(l.amount)::text AS amount, sum(l.quantity)::text AS quantity, sum(l.credited_quantity)::text AS credited
    FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
    WHERE l.organization_id = ${q.organizationId}::uuid AND l.period_start = ${q.periodStart} AND l.kind IN ('usage', 'late_usage')
      AND i.subscription_id = ${q.subscriptionId}::uuid AND ${billedInvoiceSql('i')}
    GROUP BY l.meter_id, l.dimension_value`;
  return rows.map((r) => ({ meterId: r.meter_id, dimensionValue: r.dimension_value, _sum: { amount: decimalOrNull(r.amount), quantity: decimalOrNull(r.quantity), creditedQuantity: decimalOrNull(r.credited) } }));
}

/** The invoice a period already has (a repeated close), as the close reports it. */
export interface DraftedInvoice {
  id: string;
  status: InvoiceStatus;
  revision: number;
  total: Prisma.Decimal;
  currency: string;
  createdAt: Date;
  lineCount: number;
  /** the billing run that drafted it (a re-issue run's id for a re-issued revision) */
  workflowId: string;
  /** its issued credit notes, and how many are still pending (a re-issue after a credit note in full) */
  credited: Prisma.Decimal;
  pendingCredits: number;
}

export interface CloseInputs {
  subscription: SubscriptionTerms;
  /** the period's latest invoice revision when it was drafted before */
  existing: DraftedInvoice | null;
  changes: PlanChangeRow[];
  /** prices of the subscription's plan and of every plan its changes name, by plan id */
  pricesByPlan: Map<string, PlanPriceRow[]>;
}

type Json<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] extends Prisma.Decimal ? string : T[K] extends Prisma.Decimal | null ? string | null : T[K] };

/**
 * Everything a period's close reads before it claims events, in one
 * statement: the subscription terms (as readSubscriptionTerms), the invoice
 * the period may already have with its line count, the plan changes (as
 * readPlanChanges) and the prices (as readPlanPrices) of every plan involved.
 * The close runs about 10,000 of these at a period end, and one round trip
 * instead of ten is most of its database time. Numbers travel as text so no
 * decimal goes through a float.
 */
export async function readCloseInputs(db: RawDb, q: { organizationId: string; subscriptionId: string; periodStart: Date }): Promise<CloseInputs | null> {
  const [row] = await db.$queryRaw<{ inputs: CloseInputsJson }[]>`
    SELECT json_build_object(
      'subscription', json_build_object(
        'id', s.id, 'organizationId', s.organization_id, 'customerId', s.customer_id, 'planId', s.plan_id, 'status', s.status,
        'startDate', s.start_date, 'billingAnchorDay', s.billing_anchor_day, 'cancelAtPeriodEnd', s.cancel_at_period_end,
        'canceledAt', s.canceled_at, 'createdAt', s.created_at, 'contractedBaseFee', s.contracted_base_fee::text,
        'customer', json_build_object('id', c.id, 'externalId', c.external_id),
        'plan', json_build_object('id', p.id, 'key', p.key, 'name', p.name, 'baseFee', p.base_fee::text, 'currency', p.currency, 'interval', p.interval),
        'organization', json_build_object(
          'prorationMode', o.proration_mode, 'lateEventGraceSeconds', o.late_event_grace_seconds, 'approvalReminderHours', o.approval_reminder_hours,
          'autoApproveAfterHours', o.auto_approve_after_hours, 'paymentRetryDays', o.payment_retry_days)),
      'existing', (
        SELECT json_build_object('id', i.id, 'status', i.status, 'revision', i.revision, 'total', i.total::text, 'currency', i.currency, 'createdAt', i.created_at, 'workflowId', i.workflow_id,
                                 'lineCount', (SELECT count(*) FROM invoice_lines l WHERE l.invoice_id = i.id),
                                 'credited', (SELECT COALESCE(sum(n.amount), 0)::text FROM credit_notes n WHERE n.invoice_id = i.id AND n.status = 'issued'),
                                 'pendingCredits', (SELECT count(*) FROM credit_notes n WHERE n.invoice_id = i.id AND n.status = 'pending'))
        FROM invoices i WHERE i.subscription_id = s.id AND i.period_start = ${q.periodStart} AND i.kind = 'period'
        ORDER BY i.revision DESC LIMIT 1),
      'changes', COALESCE((
        SELECT json_agg(json_build_object(
                 'id', ch.id, 'organizationId', ch.organization_id, 'subscriptionId', ch.subscription_id, 'fromPlanId', ch.from_plan_id,
                 'toPlanId', ch.to_plan_id, 'effectiveAt', ch.effective_at, 'requestKey', ch.request_key, 'createdAt', ch.created_at,
                 'fromPlan', json_build_object('id', fp.id, 'name', fp.name, 'baseFee', fp.base_fee::text),
                 'toPlan', json_build_object('id', tp.id, 'name', tp.name, 'baseFee', tp.base_fee::text))
               ORDER BY ch.effective_at, ch.created_at)
        FROM subscription_plan_changes ch JOIN plans fp ON fp.id = ch.from_plan_id JOIN plans tp ON tp.id = ch.to_plan_id
        WHERE ch.subscription_id = s.id), '[]'::json),
      'prices', COALESCE((
        SELECT json_agg(json_build_object(
                 'id', pp.id, 'organizationId', pp.organization_id, 'planId', pp.plan_id, 'meterId', pp.meter_id, 'model', pp.model,
                 'unitAmount', pp.unit_amount::text, 'tiers', pp.tiers, 'packageSize', pp.package_size::text, 'packageAmount', pp.package_amount::text,
                 'freeUnits', pp.free_units::text, 'includedUnits', pp.included_units::text, 'dimensionValue', pp.dimension_value, 'createdAt', pp.created_at,
                 'meter', json_build_object('id', m.id, 'key', m.key, 'name', m.name, 'eventType', m.event_type, 'aggregation', m.aggregation, 'property', m.property, 'dimension', m.dimension))
               ORDER BY pp.plan_id, m.key, pp.dimension_value NULLS FIRST)
        FROM plan_prices pp JOIN meters m ON m.id = pp.meter_id
        WHERE pp.plan_id = s.plan_id
           OR pp.plan_id IN (SELECT from_plan_id FROM subscription_plan_changes WHERE subscription_id = s.id
                             UNION SELECT to_plan_id FROM subscription_plan_changes WHERE subscription_id = s.id)), '[]'::json)
    ) AS inputs
    FROM subscriptions s
    JOIN customers c ON c.id = s.customer_id
    JOIN plans p ON p.id = s.plan_id
    JOIN organizations o ON o.id = s.organization_id
    WHERE s.id = ${q.subscriptionId}::uuid AND s.organization_id = ${q.organizationId}::uuid`;
  if (!row) return null;
  const { subscription: s, existing, changes, prices } = row.inputs;
  const pricesByPlan = new Map<string, PlanPriceRow[]>();
  for (const p of prices) {
    const price: PlanPriceRow = {
      ...p,
      unitAmount: decimalOrNull(p.unitAmount),
      packageSize: decimalOrNull(p.packageSize),
      packageAmount: decimalOrNull(p.packageAmount),
      freeUnits: decimalOrNull(p.freeUnits),
      includedUnits: decimal(p.includedUnits),
      createdAt: date(p.createdAt),
    };
    pricesByPlan.set(p.planId, [...(pricesByPlan.get(p.planId) ?? []), price]);
  }
  const plan = (p: Json<PlanChangeRow['fromPlan']>): PlanChangeRow['fromPlan'] => ({ ...p, baseFee: decimal(p.baseFee) });
  return {
    subscription: {
      ...s,
      startDate: date(s.startDate),
      canceledAt: dateOrNull(s.canceledAt),
      createdAt: date(s.createdAt),
      workflowStartedAt: dateOrNull(s.workflowStartedAt),
      contractedBaseFee: decimalOrNull(s.contractedBaseFee),
      plan: { ...s.plan, baseFee: decimal(s.plan.baseFee) },
    },
    existing: existing && { ...existing, total: decimal(existing.total), credited: decimal(existing.credited), createdAt: date(existing.createdAt) },
    changes: changes.map((c) => ({ ...c, effectiveAt: date(c.effectiveAt), createdAt: date(c.createdAt), fromPlan: plan(c.fromPlan), toPlan: plan(c.toPlan) })),
    pricesByPlan,
  };
}

interface CloseInputsJson {
  subscription: Json<Omit<SubscriptionTerms, 'plan'>> & { plan: Json<SubscriptionTerms['plan']> };
  existing: Json<DraftedInvoice> | null;
  changes: (Json<Omit<PlanChangeRow, 'fromPlan' | 'toPlan'>> & { fromPlan: Json<PlanChangeRow['fromPlan']>; toPlan: Json<PlanChangeRow['toPlan']> })[];
  prices: (Json<Omit<PlanPriceRow, 'meter'>> & { meter: PlanPriceRow['meter'] })[];
}
