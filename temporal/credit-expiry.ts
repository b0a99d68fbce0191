import type { Client } from '@temporalio/client';
import { startOnce } from './start-once';

/*
 * A credit grant's expiry (issue 15, point 2): one workflow per grant with
 * an expiry, `credit-expiry:<grant id>`, sleeping on a durable timer until
 * expires_at and then moving what is left to breakage
 * (workflows/credit-expiry.ts). The id makes a repeated start a no-op.
 */

export const CREDIT_EXPIRY_WORKFLOW_TYPE = 'creditGrantExpiry';

export const creditExpiryWorkflowId = (grantId: string): string => `credit-expiry:${grantId}`;

export interface CreditExpiryInput {
  organizationId: string;
  grantId: string;
  /** ISO 8601 */
  expiresAt: string;
}

/** Starts a grant's expiry timer (a start for a grant that has one already changes nothing). */
export async function startCreditExpiry(temporal: Client, taskQueue: string, input: CreditExpiryInput): Promise<string> {
  return startOnce(temporal, CREDIT_EXPIRY_WORKFLOW_TYPE, creditExpiryWorkflowId(input.grantId), taskQueue, [input]);
}
