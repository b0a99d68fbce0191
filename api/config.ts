import type { Logger } from '../temporal/log';
import { outboundPolicyFromEnv, STRICT_OUTBOUND, type OutboundPolicy } from '../billing/outbound-urls';

/** Settings of one API instance; tests build apps with their own. */
export interface ApiConfig {
  /** requests per second per organization (all its keys), unless the operator set its own; 0 disables the limit */
  rateLimitPerOrganizationPerSecond: number;
  /** requests per second per client IP that need an API key lookup (unknown or not recently verified keys); 0 disables the limit */
  rateLimitPerIpPerSecond: number;
  /** largest accepted request body: 1,000 events with 8 KB of properties each fit in 10 MB */
  bodyLimit: string;
  /** request-body bytes in process at once (api/body-budget.ts); past it requests wait, then get 503 SERVER_BUSY */
  bodyBudgetBytes: number;
  /** how long a request waits for room in the body budget */
  bodyBudgetWaitMs: number;
  /** API processes that divide rate limits among themselves: every replica of one deployment (API_INSTANCE_GROUP) */
  apiInstanceGroup: string;
  /** how long an API key lookup is trusted; a revoked key stops working within this time */
  apiKeyCacheMs: number;
  /** Express `trust proxy` setting, so the per-IP limit sees the client behind a load balancer */
  trustProxy: boolean | number | string;
  /** how long the API waits for Temporal when starting a workflow or describing one */
  temporalTimeoutMs: number;
  /** ingest transactions in flight at once (group commit: requests arriving meanwhile share the next one) */
  ingestWriters: number;
  /** events one ingest transaction takes from the queue at most */
  ingestMaxEventsPerGroup: number;
  /** an organization's pending events past which its POST /api/v1/events answers 503 (0 = no limit) */
  ingestMaxBacklogEvents: number;
  /** age of an organization's oldest pending event past which its POST /api/v1/events answers 503 (0 = no limit) */
  ingestMaxBacklogAgeSeconds: number;
  /** how often the API reads the ingest backlog */
  ingestBacklogRefreshMs: number;
  /** where organizations' own URLs (CRM webhook, SMTP server) may point (OUTBOUND_DEVELOPMENT) */
  outbound: OutboundPolicy;
  /** signing secret of the Stripe webhook endpoint (whsec_…); unset, POST /webhooks/stripe answers 503 */
  stripeWebhookSecret?: string;
  log: (message: string, err?: unknown) => void;
  /** at debug level, a line per answered request (the process's logger; api/main.ts) */
  accessLog?: Pick<Logger, 'debug' | 'isLevelEnabled'>;
}

export const defaultApiConfig: ApiConfig = {
  // Stripe allows 1,000 meter-event calls per second per account.
  rateLimitPerOrganizationPerSecond: 1000,
  rateLimitPerIpPerSecond: 100,
  bodyLimit: '10mb',
  // Parsed, a body takes up to ~9 times its size on the heap (measured: 7.3 MB of events with 700-key properties held
  // 62 MiB until stored; typical events far less): 10 MiB of bodies (one at the 10 MB limit) then hold at most ~90 MiB,
  // which with the API's ~70 MiB of code and caches stays well inside its 256 MiB old generation (api/node-flags.ts).
  bodyBudgetBytes: 10 * 1024 * 1024,
  bodyBudgetWaitMs: 5000,
  apiKeyCacheMs: 3000,
  apiInstanceGroup: 'api',
  trustProxy: false,
  temporalTimeoutMs: 3000,
  ingestWriters: 2,
  ingestMaxEventsPerGroup: 1000,
  ingestMaxBacklogEvents: 200_000,
  ingestMaxBacklogAgeSeconds: 300,
  ingestBacklogRefreshMs: 1000,
  outbound: STRICT_OUTBOUND,
  log: (message, err) => {
    console.error(`[api] ${message}`, err ?? '');
  },
};

function nonNegativeInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer (got "${raw}")`);
  return n;
}

const RENAMED: Record<string, string> = {
  RATE_LIMIT_PER_KEY_PER_MINUTE: 'RATE_LIMIT_PER_ORGANIZATION_PER_SECOND (and per key: npm run admin -- set-rate-limit)',
  RATE_LIMIT_PER_IP_PER_MINUTE: 'RATE_LIMIT_PER_IP_PER_SECOND',
};

/** Reads the environment (see the README's configuration table). */
export function apiConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  for (const [old, replacement] of Object.entries(RENAMED)) {
    if (env[old] !== undefined) throw new Error(`${old} is no longer read: rate limits are per second now; set ${replacement}`);
  }
  return {
    ...defaultApiConfig,
    rateLimitPerOrganizationPerSecond: nonNegativeInt(
      'RATE_LIMIT_PER_ORGANIZATION_PER_SECOND',
      env.RATE_LIMIT_PER_ORGANIZATION_PER_SECOND,
      defaultApiConfig.rateLimitPerOrganizationPerSecond,
    ),
    rateLimitPerIpPerSecond: nonNegativeInt('RATE_LIMIT_PER_IP_PER_SECOND', env.RATE_LIMIT_PER_IP_PER_SECOND, defaultApiConfig.rateLimitPerIpPerSecond),
    bodyBudgetBytes: nonNegativeInt('API_BODY_BUDGET_BYTES', env.API_BODY_BUDGET_BYTES, defaultApiConfig.bodyBudgetBytes),
    bodyBudgetWaitMs: nonNegativeInt('API_BODY_BUDGET_WAIT_MS', env.API_BODY_BUDGET_WAIT_MS, defaultApiConfig.bodyBudgetWaitMs),
    apiInstanceGroup: env.API_INSTANCE_GROUP || defaultApiConfig.apiInstanceGroup,
    ingestWriters: Math.max(1, nonNegativeInt('INGEST_WRITERS', env.INGEST_WRITERS, defaultApiConfig.ingestWriters)),
    ingestMaxBacklogEvents: nonNegativeInt('INGEST_MAX_BACKLOG_EVENTS', env.INGEST_MAX_BACKLOG_EVENTS, defaultApiConfig.ingestMaxBacklogEvents),
    ingestMaxBacklogAgeSeconds: nonNegativeInt('INGEST_MAX_BACKLOG_AGE_SECONDS', env.INGEST_MAX_BACKLOG_AGE_SECONDS, defaultApiConfig.ingestMaxBacklogAgeSeconds),
    stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET || undefined,
    outbound: outboundPolicyFromEnv(env),
  };
}
