import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { InvoiceStatus } from '../../prisma/generated/enums';
import { dec } from '../../billing/decimal';
import { testPrisma } from './fixtures';

export interface TestInvoice {
  invoiceId: string;
  customerId: string;
  lineIds: string[];
  workflowId: string;
  /** the run that drafted it */
  runId: string;
}

/**
 * An invoice as the billing run leaves it before the Stripe step: customer,
 * plan, subscription, invoice and already-rounded lines, inserted directly.
 * Pass `customerId` to bill an existing customer again.
 */
export async function insertInvoice(
  organizationId: string,
  options: { currency: string; lines: string[]; status?: InvoiceStatus; customerId?: string },
): Promise<TestInvoice> {
  const prisma = testPrisma();
  const customerId =
    options.customerId ?? (await prisma.customer.create({ data: { organizationId, externalId: `cust-${randomUUID()}`, name: 'Acme Ltd', email: 'billing@acme.test' } })).id;
  const plan = await prisma.plan.create({ data: { organizationId, key: `plan-${randomUUID()}`, name: 'Pro', currency: options.currency, interval: 'month', baseFee: '30' } });
  const subscription = await prisma.subscription.create({
    data: { organizationId, customerId, planId: plan.id, startDate: new Date('2026-10-01T00:00:00Z'), billingAnchorDay: 1 },
  });
  const periodStart = new Date('2026-10-01T00:00:00Z');
  const periodEnd = new Date('2026-11-01T00:00:00Z');
  const workflowId = `billing-run:${subscription.id}:2026-10-01`;
  const runId = `draft-run-${randomUUID()}`;
  const total = options.lines.reduce((sum, amount) => sum.plus(dec(amount)), dec(0));
  const invoice = await prisma.invoice.create({
    data: {
      organizationId,
      subscriptionId: subscription.id,
      customerId,
      periodStart,
      periodEnd,
      currency: options.currency,
      status: options.status ?? 'approved',
      total: total.toFixed(),
      workflowId,
      workflowRunId: runId,
      lines: {
        create: options.lines.map((amount, position) => ({
          organizationId,
          position,
          kind: dec(amount).isNegative() ? 'proration_credit' : 'base_fee',
          description: `line ${position + 1}`,
          amount,
          periodStart,
          periodEnd,
        })),
      },
    },
    include: { lines: { orderBy: { position: 'asc' } } },
  });
  return { invoiceId: invoice.id, customerId, lineIds: invoice.lines.map((line) => line.id), workflowId, runId };
}

/**
 * Runs an activity as if scheduled by the given workflow run. Logs only
 * errors: the tests expect failures, which the SDK would log as warnings.
 */
export function runInWorkflow<A extends unknown[], R>(workflow: { workflowId: string; runId: string }, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment({ workflowExecution: workflow }, { logger: new DefaultLogger('ERROR') }).run(fn, ...args);
}
