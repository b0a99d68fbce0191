import type { QuotaMode } from './quota';

/** The fields of a quota limit row that decide whether it applies. */
export interface LimitScope {
  eventType: string;
  /** null = the organization's default for every customer */
  customerExternalId: string | null;
  mode: QuotaMode;
}

/**
 * The limit that governs one customer's events of one type: a row for that
 * customer wins over the organization default (customerExternalId null).
 * A DISABLED winner means "no limit" — it switches the default off for that
 * customer rather than falling back to it — so the result is undefined.
 */
export function applicableLimit<L extends LimitScope>(
  limits: readonly L[],
  eventType: string,
  customerExternalId: string,
): L | undefined {
  let fallback: L | undefined;
  let specific: L | undefined;
  for (const limit of limits) {
    if (limit.eventType !== eventType) continue;
    if (limit.customerExternalId === customerExternalId) specific = limit;
    else if (limit.customerExternalId === null) fallback = limit;
  }
  const winner = specific ?? fallback;
  return winner && winner.mode !== 'DISABLED' ? winner : undefined;
}
