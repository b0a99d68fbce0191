/** Task queues and deterministic workflow ids: a repeated start is a no-op. */
export const TASK_QUEUE = process.env.TEMPORAL_TASK_QUEUE ?? 'ledgerflow';
export const DEFAULT_NAMESPACE = 'default';

export const ingestWorkflowId = (batchId: string): string => `ingest:${batchId}`;
export const SWEEPER_SCHEDULE_ID = 'ledgerflow-ingest-sweeper';

export { subscriptionWorkflowId, billingRunWorkflowId, recoveryRunWorkflowId } from './workflow-ids';
