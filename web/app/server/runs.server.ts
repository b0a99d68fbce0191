import { WorkflowNotFoundError } from '@temporalio/common';
import type { AppLoadContext } from 'react-router';
import { money } from './money.server';

/** Deep link to one workflow in the Temporal Web UI. */
export function temporalUiLink(context: AppLoadContext, workflowId: string): string {
  return `${context.temporalUiUrl}/namespaces/${encodeURIComponent(context.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * Billing runs of the organization: every invoice names the run that drafted
 * it (so the list is tenant-scoped by the database), and Temporal adds the
 * execution's status. Runs still before their draft are not listed yet.
 */
export async function listBillingRuns(context: AppLoadContext, organizationId: string) {
  const invoices = await context.prisma.invoice.findMany({
    where: { organizationId },
    include: { customer: { select: { externalId: true, name: true } } },
    orderBy: [{ periodStart: 'desc' }, { id: 'asc' }],
    take: 50,
  });
  return Promise.all(
    invoices.map(async (i) => ({
      workflowId: i.workflowId,
      invoiceId: i.id,
      customer: i.customer.name ?? i.customer.externalId,
      period: `${i.periodStart.toISOString().slice(0, 10)} – ${i.periodEnd.toISOString().slice(0, 10)}`,
      phase: i.status,
      total: money(i.total, i.currency),
      temporalStatus: await executionStatus(context, i.workflowId),
      temporalUrl: temporalUiLink(context, i.workflowId),
    })),
  );
}

async function executionStatus(context: AppLoadContext, workflowId: string): Promise<string> {
  try {
    return (await context.temporal.workflow.getHandle(workflowId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
    throw err;
  }
}
