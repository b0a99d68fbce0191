import type { ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';
import { recordInvoicePaid } from './invoice-records';

export interface MarkInvoicePaidInput {
  organizationId: string;
  invoiceId: string;
  source: 'webhook';
  stripeEventId: string;
}

/**
 * Records a payment Stripe reported by webhook: the same database effect as
 * a successful collection, without calling Stripe. A payment that lands after
 * the invoice was written off still counts. Idempotent: `recorded` is false
 * when the invoice was already paid.
 */
export function markInvoicePaid({ prisma }: ActivityDeps) {
  return async function markInvoicePaid({ organizationId, invoiceId, stripeEventId }: MarkInvoicePaidInput): Promise<{ recorded: boolean }> {
    const actor = workflowActor();
    const recorded = await recordInvoicePaid(prisma, { organizationId, invoiceId, actor, from: ['finalized', 'uncollectible'], source: 'webhook', stripeEventId });
    return { recorded };
  };
}
