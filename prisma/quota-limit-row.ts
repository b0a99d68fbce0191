import type { QuotaMode } from '../billing/quota';
import type { QuotaWindowKind } from '../billing/quota-window';

/** A quota_limits row as the API reads it (see LIMIT_COLUMNS). */
export interface QuotaLimitRow {
  id: string;
  customerExternalId: string | null;
  eventType: string;
  limitValue: string;
  mode: QuotaMode;
  softWarningPercent: number;
  gracePeriodSeconds: number;
  resetWindow: QuotaWindowKind;
}

/** SELECT list that yields QuotaLimitRow. */
export const LIMIT_COLUMNS = `id, customer_external_id AS "customerExternalId", event_type AS "eventType",
  limit_value::text AS "limitValue", mode, soft_warning_percent AS "softWarningPercent",
  grace_period_seconds AS "gracePeriodSeconds", reset_window AS "resetWindow"`;
