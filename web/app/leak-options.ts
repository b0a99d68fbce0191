/** The leaks page's filter choices; shared by the page and its server module. */
export const FINDING_STATUSES = ['open', 'actioned', 'recovered', 'dismissed'] as const;
export const FINDING_KINDS = ['unbilled_usage', 'missed_overage', 'under_reported_usage', 'renewal_drift', 'stale_rating'] as const;
