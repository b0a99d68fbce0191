import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes Ledgerflow's workflows set, so ops can filter runs in the
 * Temporal UI, e.g. `LedgerflowOrganizationId = "…" AND ExecutionStatus = "Failed"`.
 */
export const OrganizationId = defineSearchAttributeKey('LedgerflowOrganizationId', SearchAttributeType.KEYWORD);
export const CustomerId = defineSearchAttributeKey('LedgerflowCustomerId', SearchAttributeType.KEYWORD);
export const SubscriptionId = defineSearchAttributeKey('LedgerflowSubscriptionId', SearchAttributeType.KEYWORD);
export const BillingPeriod = defineSearchAttributeKey('LedgerflowBillingPeriod', SearchAttributeType.KEYWORD);
export const InvoiceId = defineSearchAttributeKey('LedgerflowInvoiceId', SearchAttributeType.KEYWORD);
export const BatchId = defineSearchAttributeKey('LedgerflowBatchId', SearchAttributeType.KEYWORD);
