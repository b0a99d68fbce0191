import type { AppLoadContext } from 'react-router';
import { readMargins, type MarginRow } from '../../../services/margins';
import { dec, toPlainString } from '../../../billing/decimal';
import { combineDaily, type DailyReading } from '../../../billing/meter-aggregation';
import { bpsPercent, formatMarginAmount, marginWindow } from '../../../billing/margins';
import { money } from './money.server';

const day = (d: Date): string => d.toISOString().slice(0, 10);
const PAGE = 50;

type Snapshot = { customerId: string; meterId: string; day: Date; quantity: { toString(): string }; eventCount: number; newestAt: Date | null; newestId: string | null };
type MeterInfo = { id: string; key: string; name: string; aggregation: 'sum' | 'count' | 'max' | 'unique_count' | 'latest'; dimension: string | null };

/**
 * A meter's reading over the given days' snapshots, as billing combines them; unique counts need the events,
 * so they show as "—", and so does the max or latest of a meter with a dimension (its snapshots are per value,
 * and what billing takes of them depends on how each plan prices the values).
 */
function reading(meter: MeterInfo, snapshots: readonly Snapshot[]): string {
  if (meter.aggregation === 'unique_count' || (meter.dimension && (meter.aggregation === 'max' || meter.aggregation === 'latest'))) return '—';
  const days: DailyReading[] = snapshots.map((s) => ({ day: day(s.day), quantity: dec(s.quantity.toString()), newestAt: s.newestAt, newestId: s.newestId }));
  return toPlainString(combineDaily({ aggregation: meter.aggregation }, days));
}

function marginText(rows: readonly MarginRow[]): { margin: string; marginPercent: string } {
  if (rows.length === 0) return { margin: '—', marginPercent: '—' };
  return {
    margin: rows.map((r) => `${formatMarginAmount(r.margin, r.currency)} ${r.currency.toUpperCase()}`).join(', '),
    marginPercent: rows.map((r) => bpsPercent(r.marginBps) ?? 'n/a').join(', '),
  };
}

/**
 * Customers with this month's usage per meter (from the daily snapshots,
 * combined the way billing combines them) and this month's margin (the same
 * computation as GET /api/v1/margins and the margin alerts).
 */
export async function listCustomers(context: AppLoadContext, organizationId: string, params: URLSearchParams, now = new Date()) {
  const q = params.get('q')?.trim().slice(0, 100) ?? '';
  const skip = Math.max(0, Math.floor(Number(params.get('page') ?? '1')) - 1 || 0) * PAGE;
  const window = marginWindow('current_period', now);
  const where = { organizationId, ...(q ? { OR: [{ externalId: { contains: q, mode: 'insensitive' as const } }, { name: { contains: q, mode: 'insensitive' as const } }] } : {}) };
  const [customers, total, meters, margins] = await Promise.all([
    context.prisma.customer.findMany({ where, orderBy: [{ name: 'asc' }, { externalId: 'asc' }], skip, take: PAGE }),
    context.prisma.customer.count({ where }),
    context.prisma.meter.findMany({ where: { organizationId }, orderBy: { key: 'asc' } }),
    readMargins(context.prisma, organizationId, window, 'customer'),
  ]);
  const snapshots = await context.prisma.usageSnapshot.findMany({
    where: { organizationId, customerId: { in: customers.map((c) => c.id) }, day: { gte: window.start, lt: window.end } },
  });
  return {
    q,
    month: day(window.start).slice(0, 7),
    total,
    page: skip / PAGE + 1,
    pages: Math.max(1, Math.ceil(total / PAGE)),
    meters: meters.map((m) => ({ id: m.id, name: m.name })),
    customers: customers.map((c) => {
      const mine = snapshots.filter((s) => s.customerId === c.id);
      return {
        id: c.id,
        name: c.name ?? c.externalId,
        externalId: c.externalId,
        usage: meters.map((m) => reading(m, mine.filter((s) => s.meterId === m.id))),
        ...marginText(margins.filter((r) => r.key === c.id)),
      };
    }),
  };
}

/** One customer: daily usage per meter over the 60 days up to their latest usage (for the chart), invoices, margin alerts, leak findings and audit history. */
export async function readCustomer(context: AppLoadContext, organizationId: string, customerId: string | undefined, now = new Date()) {
  const customer = customerId && /^[0-9a-f-]{36}$/i.test(customerId) ? await context.prisma.customer.findFirst({ where: { id: customerId, organizationId }, include: { parent: { select: { id: true, externalId: true } } } }) : null;
  if (!customer) return null;
  // The 60 days up to the customer's latest usage (today's window for a quiet customer would be empty).
  const latest = await context.prisma.usageSnapshot.findFirst({ where: { organizationId, customerId: customer.id }, orderBy: { day: 'desc' }, select: { day: true } });
  const until = latest?.day ?? now;
  const since = new Date(Date.UTC(until.getUTCFullYear(), until.getUTCMonth(), until.getUTCDate() - 59));
  const window = marginWindow('current_period', now);
  const [meters, snapshots, invoices, alerts, findings, subscriptions, margins] = await Promise.all([
    context.prisma.meter.findMany({ where: { organizationId }, orderBy: { key: 'asc' } }),
    context.prisma.usageSnapshot.findMany({ where: { organizationId, customerId: customer.id, day: { gte: since } }, orderBy: { day: 'asc' } }),
    context.prisma.invoice.findMany({ where: { organizationId, customerId: customer.id }, orderBy: { periodStart: 'desc' }, take: 24 }),
    context.prisma.marginAlert.findMany({ where: { organizationId, scope: 'customer', scopeKey: customer.id }, orderBy: { updatedAt: 'desc' }, take: 24 }),
    context.prisma.leakFinding.findMany({ where: { organizationId, customerExternalId: customer.externalId }, orderBy: { periodStart: 'desc' }, take: 24 }),
    context.prisma.subscription.findMany({ where: { organizationId, customerId: customer.id }, select: { id: true } }),
    readMargins(context.prisma, organizationId, window, 'customer'),
  ]);
  const entityIds = [customer.id, ...subscriptions.map((s) => s.id), ...invoices.map((i) => i.id), ...findings.map((f) => f.id)];
  const audit = await context.prisma.auditLog.findMany({ where: { organizationId, entityId: { in: entityIds } }, orderBy: { id: 'desc' }, take: 50 });

  // One series per meter, or per value of a meter with a dimension (the per-model burn a customer of an AI product reads).
  const sliceKey = (s: { meterId: string; dimensionValue: string }) => `${s.meterId}|${s.dimensionValue}`;
  const used = meters.flatMap((m) => {
    const values = [...new Set(snapshots.filter((s) => s.meterId === m.id).map((s) => s.dimensionValue))].sort();
    return values.map((value) => ({
      id: sliceKey({ meterId: m.id, dimensionValue: value }),
      key: value === '' ? m.key : `${m.key}[${value}]`,
      name: !m.dimension || (value === '' && values.length === 1) ? m.name : value !== '' ? `${m.name} (${m.dimension} ${value})` : `${m.name} (no ${m.dimension})`,
    }));
  });
  const days = [...new Set(snapshots.map((s) => day(s.day)))];
  const series = used.map((m) => ({ key: m.key, name: m.name }));
  const quantityOn = (id: string, d: string) => snapshots.find((x) => sliceKey(x) === id && day(x.day) === d)?.quantity;
  // One row per day, one column per meter (or value): the day's reading as its snapshot stores it.
  const points = days.map((d) => {
    const row: Record<string, string | number> = { day: d };
    for (const m of used) row[m.key] = Number(quantityOn(m.id, d)?.toString() ?? 0);
    return row;
  });
  const table = days.map((d) => ({ day: d, values: used.map((m) => quantityOn(m.id, d)?.toString() ?? '0') }));

  return {
    customer: { id: customer.id, name: customer.name ?? customer.externalId, givenName: customer.name, externalId: customer.externalId, email: customer.email, stripe: customer.stripeCustomerId, poolParent: customer.parent },
    month: day(window.start).slice(0, 7),
    ...marginText(margins.filter((r) => r.key === customer.id)),
    chart: { series, points, table },
    invoices: invoices.map((i) => ({ id: i.id, period: `${day(i.periodStart)} – ${day(i.periodEnd)}`, status: i.status, total: money(i.total, i.currency) })),
    alerts: alerts.map((a) => ({ id: a.id, month: day(a.periodStart).slice(0, 7), level: a.level.replace(/_/g, ' '), margin: bpsPercent(a.marginBps) ?? 'no revenue', status: a.status })),
    findings: findings.map((f) => ({ id: f.id, kind: f.kind.replace(/_/g, ' '), subject: f.subject, period: `${day(f.periodStart)} – ${day(f.periodEnd)}`, leak: money(f.leakAmount, f.currency), status: f.status })),
    audit: audit.map((a) => ({ id: a.id.toString(), at: a.createdAt.toISOString().replace('T', ' ').slice(0, 19), action: a.action, actor: `${a.actorType}: ${a.actorId}`, entity: `${a.entityType} ${a.entityId}` })),
  };
}
