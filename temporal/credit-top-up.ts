import type { Client } from '@temporalio/client';
import { startOnce } from './start-once';

/*
 * A credit top-up (issue 15, point 6): one workflow per top-up,
 * `credit-top-up:<id>`, that charges it through Stripe and grants its
 * credits when the payment succeeds (workflows/credit-top-up.ts).
 */

export const CREDIT_TOP_UP_WORKFLOW_TYPE = 'creditTopUp';

export const creditTopUpWorkflowId = (topUpId: string): string => `credit-top-up:${topUpId}`;

export interface CreditTopUpInput {
  organizationId: string;
  topUpId: string;
}

/** Starts a top-up's workflow (a start for a top-up that has one already changes nothing). */
export async function startCreditTopUp(temporal: Client, taskQueue: string, input: CreditTopUpInput): Promise<string> {
  return startOnce(temporal, CREDIT_TOP_UP_WORKFLOW_TYPE, creditTopUpWorkflowId(input.topUpId), taskQueue, [input]);
}
