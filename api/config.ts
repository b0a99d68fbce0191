/** Settings of one API instance; tests build apps with their own. */
export interface ApiConfig {
  /** requests per API key per minute; 0 disables the limit */
  rateLimitPerKeyPerMinute: number;
  /** requests per client IP per minute; 0 disables the limit */
  rateLimitPerIpPerMinute: number;
  /** largest accepted request body: 1,000 events with 8 KB of properties each fit in 10 MB */
  bodyLimit: string;
  /** how long an API key lookup is trusted; a revoked key stops working within this time */
  apiKeyCacheMs: number;
  /** Express `trust proxy` setting, so the per-IP limit sees the client behind a load balancer */
  trustProxy: boolean | number | string;
  /** how long the API waits for Temporal when starting a workflow or describing one */
  temporalTimeoutMs: number;
  /** signing secret of the Stripe webhook endpoint (whsec_…); unset, POST /webhooks/stripe answers 503 */
  stripeWebhookSecret?: string;
  log: (message: string, err?: unknown) => void;
}

export const defaultApiConfig: ApiConfig = {
  rateLimitPerKeyPerMinute: 1000,
  rateLimitPerIpPerMinute: 6000,
  bodyLimit: '10mb',
  apiKeyCacheMs: 3000,
  trustProxy: false,
  temporalTimeoutMs: 3000,
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

/** Reads the environment: RATE_LIMIT_PER_KEY_PER_MINUTE, RATE_LIMIT_PER_IP_PER_MINUTE, STRIPE_WEBHOOK_SECRET. */
export function apiConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return {
    ...defaultApiConfig,
    rateLimitPerKeyPerMinute: nonNegativeInt('RATE_LIMIT_PER_KEY_PER_MINUTE', env.RATE_LIMIT_PER_KEY_PER_MINUTE, defaultApiConfig.rateLimitPerKeyPerMinute),
    rateLimitPerIpPerMinute: nonNegativeInt('RATE_LIMIT_PER_IP_PER_MINUTE', env.RATE_LIMIT_PER_IP_PER_MINUTE, defaultApiConfig.rateLimitPerIpPerMinute),
    stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET || undefined,
  };
}
