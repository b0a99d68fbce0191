import { formatMarginAmount, marginWindow, type MarginWindowKind } from '../billing/margins';
import type { PrismaClient } from '../prisma/client';
import { readMargins, type MarginGroupBy } from '../prisma/margin-reads';

export { readMargins, type MarginRow } from '../prisma/margin-reads';

/**
 * Revenue, cost and margin per customer or feature and currency over a
 * window, with the organization's alert threshold: GET /api/v1/margins. The
 * figures are read as the margin watch reads them (prisma/margin-reads.ts),
 * so a report and an alert never disagree; the web app's overview and
 * customer pages read the same rows.
 */
export async function marginReport(prisma: PrismaClient, organizationId: string, query: { window: MarginWindowKind; as_of?: Date | undefined; group_by: MarginGroupBy }) {
  const window = marginWindow(query.window, query.as_of ?? new Date());
  const [rows, org] = await Promise.all([
    readMargins(prisma, organizationId, window, query.group_by),
    prisma.organization.findUniqueOrThrow({ where: { id: organizationId }, select: { marginThresholdBps: true } }),
  ]);
  return {
    data: rows.map((r) => {
      const show = (amount: typeof r.revenue) => formatMarginAmount(amount, r.currency);
      return {
        ...(query.group_by === 'customer' ? { customer_id: r.key, customer_external_id: r.customerExternalId } : { feature: r.key === '' ? null : r.key }),
        currency: r.currency,
        revenue: show(r.revenue),
        event_revenue: show(r.eventRevenue),
        invoice_revenue: show(r.invoiceRevenue),
        stripe_invoice_revenue: show(r.stripeInvoiceRevenue),
        credit_revenue: show(r.creditRevenue),
        cost: show(r.cost),
        margin: show(r.margin),
        margin_bps: r.marginBps,
      };
    }),
    window: { kind: query.window, start: window.start.toISOString(), end: window.end.toISOString() },
    group_by: query.group_by,
    threshold_bps: org.marginThresholdBps,
  };
}
