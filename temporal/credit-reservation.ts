import type { Client } from '@temporalio/client';
import { startOnce } from './start-once';

/*
 * A credit reservation's expiry (issue 15, point 5): one workflow per
 * reservation, `credit-reservation:<id>`, sleeping on a durable timer until
 * expires_at and then giving back what is still held
 * (workflows/credit-reservation.ts). The id makes a repeated start a no-op.
 */

export const CREDIT_RESERVATION_WORKFLOW_TYPE = 'creditReservationExpiry';

export const creditReservationWorkflowId = (reservationId: string): string => `credit-reservation:${reservationId}`;

export interface CreditReservationInput {
  organizationId: string;
  reservationId: string;
  /** ISO 8601 */
  expiresAt: string;
}

/** Starts a reservation's expiry timer (a start for a reservation that has one already changes nothing). */
export async function startReservationExpiry(temporal: Client, taskQueue: string, input: CreditReservationInput): Promise<string> {
  return startOnce(temporal, CREDIT_RESERVATION_WORKFLOW_TYPE, creditReservationWorkflowId(input.reservationId), taskQueue, [input]);
}
