import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

import { BatchId, BillingPeriod, CustomerId, InvoiceId, OrganizationId, SubscriptionId } from './search-attribute-keys';

export { BatchId, BillingPeriod, CustomerId, InvoiceId, OrganizationId, SubscriptionId };

export const ALL_SEARCH_ATTRIBUTES = [OrganizationId, CustomerId, SubscriptionId, BillingPeriod, InvoiceId, BatchId];

/** Registers any of our search attributes the namespace lacks. Safe to repeat. */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = ALL_SEARCH_ATTRIBUTES.filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of missing) searchAttributes[key.name] = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (err) {
    // Two processes racing to register: the loser sees "already exists".
    if (!/already exists/i.test(String((err as Error).message))) throw err;
  }
  return missing.map((key) => key.name);
}
