import type { AppLoadContext } from 'react-router';
import { bpsPercent } from '../../../billing/margins';
import { renderNotification } from '../../../billing/notification-messages';

const day = (d: Date): string => d.toISOString().slice(0, 10);
const percent = (bps: number | null): string => bpsPercent(bps) ?? 'no revenue';

/**
 * Margin alerts (open first, then the recently resolved) and the newest
 * notifications in the outbox with whether the channels took them yet. The
 * titles are the ones Slack and email get (billing/notification-messages.ts).
 */
export async function readAlerts(context: AppLoadContext, organizationId: string) {
  const [alerts, notifications] = await Promise.all([
    context.prisma.marginAlert.findMany({ where: { organizationId }, orderBy: [{ status: 'asc' }, { updatedAt: 'desc' }], take: 100 }),
    context.prisma.notification.findMany({ where: { organizationId }, orderBy: { createdAt: 'desc' }, take: 50 }),
  ]);
  const customerIds = alerts.filter((a) => a.scope === 'customer').map((a) => a.scopeKey);
  const customers = await context.prisma.customer.findMany({ where: { organizationId, id: { in: customerIds } }, select: { id: true, externalId: true, name: true } });
  const customerName = new Map(customers.map((c) => [c.id, c.name ?? c.externalId]));
  return {
    alerts: alerts.map((a) => ({
      id: a.id,
      subject: a.scope === 'customer' ? `customer ${customerName.get(a.scopeKey) ?? a.scopeKey}` : `feature ${a.scopeKey || '(none)'}`,
      month: day(a.periodStart).slice(0, 7),
      level: a.level.replace(/_/g, ' '),
      margin: percent(a.marginBps),
      status: a.status,
      since: a.createdAt.toISOString().replace('T', ' ').slice(0, 16),
      resolvedAt: a.resolvedAt ? a.resolvedAt.toISOString().replace('T', ' ').slice(0, 16) : null,
    })),
    notifications: notifications.map((n) => ({
      id: n.id,
      at: n.createdAt.toISOString().replace('T', ' ').slice(0, 19),
      kind: n.kind,
      title: renderNotification({ id: n.id, organizationId, kind: n.kind, dedupeKey: n.dedupeKey, payload: n.payload, createdAt: n.createdAt }).title,
      delivery: n.deliveredAt ? `delivered ${n.deliveredAt.toISOString().replace('T', ' ').slice(0, 19)}` : 'waiting (retried until delivered)',
    })),
  };
}
