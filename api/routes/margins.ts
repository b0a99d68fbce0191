import { Router } from 'express';
import { marginWindow } from '../../billing/margins';
import { formatMarginAmount, readMargins } from '../../activities/margins/read-margins';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { MarginsQuerySchema } from '../schemas/margins';
import { parseOrThrow } from '../validation';

/** GET /api/v1/margins: revenue, cost and margin per customer or feature and currency, for the caller's organization. */
export function marginsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const { organizationId } = callerOf(req);
    const query = parseOrThrow(MarginsQuerySchema, req.query, 'query');
    const window = marginWindow(query.window, query.as_of ?? new Date());
    const [rows, org] = await Promise.all([
      readMargins(deps.prisma, organizationId, window, query.group_by),
      deps.prisma.organization.findUniqueOrThrow({ where: { id: organizationId }, select: { marginThresholdBps: true } }),
    ]);
    res.json({
      data: rows.map((r) => {
        const show = (amount: typeof r.revenue) => formatMarginAmount(amount, r.currency);
        return {
          ...(query.group_by === 'customer' ? { customer_id: r.key, customer_external_id: r.customerExternalId } : { feature: r.key === '' ? null : r.key }),
          currency: r.currency,
          revenue: show(r.revenue),
          event_revenue: show(r.eventRevenue),
          invoice_revenue: show(r.invoiceRevenue),
          stripe_invoice_revenue: show(r.stripeInvoiceRevenue),
          cost: show(r.cost),
          margin: show(r.margin),
          margin_bps: r.marginBps,
        };
      }),
      window: { kind: query.window, start: window.start.toISOString(), end: window.end.toISOString() },
      group_by: query.group_by,
      threshold_bps: org.marginThresholdBps,
    });
  });
  return router;
}
