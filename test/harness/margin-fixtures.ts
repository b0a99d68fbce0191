import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '../../prisma/client';
import { insertBatch } from './insert-batch';

export interface RatedEventSeed {
  at: string;
  feature?: string;
  /** usage_events.revenue; omitted = the event reported no revenue */
  revenue?: string;
  currency?: string;
  cost: string;
  /** leave the event pending (not rated) */
  pending?: boolean;
}

/**
 * Events as the ingest workflow leaves them after rating: stored the way the
 * API stores them, then linked to the customer and given cost and revenue.
 * Margin tests need exact figures, not the rating of token usage.
 */
export async function insertRatedEvents(prisma: PrismaClient, organizationId: string, customer: { id: string; externalId: string }, events: RatedEventSeed[]): Promise<void> {
  const batch = await insertBatch(
    prisma,
    organizationId,
    events.map((e) => ({ customerExternalId: customer.externalId, timestamp: e.at, feature: e.feature, revenueAmount: e.revenue, currency: e.currency })),
  );
  for (const [i, e] of events.entries()) {
    if (e.pending) continue;
    await prisma.usageEvent.update({
      where: { id: batch.eventIds[i]! },
      data: { status: 'rated', customerId: customer.id, cost: e.cost, revenue: e.revenue ?? null, ratedAt: new Date() },
    });
  }
}

/** A stored Stripe webhook event for an invoice (as the webhook route stores it). */
/** A line of a stored Stripe invoice: `quantity` units of `price` for a service period. */
export interface StripeLineInput {
  price: string;
  quantity: number;
  period_start: string;
  period_end: string;
  shape?: 'legacy' | 'pricing';
}

export async function insertStripeInvoiceEvent(
  prisma: PrismaClient,
  organizationId: string,
  type: 'invoice.paid' | 'invoice.finalized',
  invoice: { id: string; customer: string; currency: string; period_start: string; period_end: string; amount_paid: number; amount_due: number; metadata?: Record<string, string> },
  lines: StripeLineInput[] = [],
): Promise<void> {
  const seconds = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);
  const object = {
    object: 'invoice',
    ...invoice,
    period_start: seconds(invoice.period_start),
    period_end: seconds(invoice.period_end),
    metadata: invoice.metadata ?? {},
    lines: {
      object: 'list',
      has_more: false,
      data: lines.map((l, i) => ({
        id: `il_${i}_${randomUUID().slice(0, 8)}`,
        object: 'line_item',
        quantity: l.quantity,
        period: { start: seconds(l.period_start), end: seconds(l.period_end) },
        // Stripe API versions before 2025-03-31 name the price in `price`, later ones in `pricing.price_details`.
        ...(l.shape === 'legacy' ? { price: { id: l.price, object: 'price' } } : { pricing: { type: 'price_details', price_details: { price: l.price, product: 'prod_test' } } }),
      })),
    },
  };
  const id = `evt_${randomUUID().replace(/-/g, '')}`;
  await prisma.stripeEvent.create({
    data: { id, organizationId, type, payload: { id, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } }, processedAt: new Date(), outcome: 'stored' },
  });
}
