import type { ApiDeps } from '../deps';
import { route, type RouteTable } from '../route-table';
import { EntitlementRequestSchema, EntitlementResponseSchema } from '../schemas/other';
import { checkFeature } from '../../services/feature-check';
import { checkUsage } from '../usage-check';
import { DomainError } from '../../services/errors';
import { priceNow } from '../../services/vendor-rates';
import type { TokenUsage } from '../../billing/token-cost';

/** estimated_usage at the rate in effect now, or why it cannot be priced. */
async function costPreview(deps: ApiDeps, organizationId: string, usage: TokenUsage | undefined) {
  if (!usage) return {};
  try {
    const priced = await priceNow(deps.prisma, organizationId, usage);
    return { cost_preview: { cost: priced.cost, currency: priced.currency, rate_id: priced.rate.id } };
  } catch (err) {
    if (err instanceof DomainError) return { cost_preview: null, cost_preview_error: err.message };
    throw err;
  }
}

export const entitlementRoutes: RouteTable = {
  mount: '/entitlements',
  routes: [
    route({
      method: 'post',
      path: '/check',
      summary: 'Would this quantity be allowed now: under a quota and a prepaid-only wallet (event_type), or by the customer\'s plans (feature)?',
      description:
        'Send event_type or feature, one of them. A quota answer has the limit in effect and the usage in its window; a feature answer the deciding plan, the feature\'s kind and limit or value, and when refused the newest version of the organization\'s other active plans in the customer\'s currencies that would grant it, cheapest first. A customer is on the plans its subscriptions are on now (a plan change or cancellation counts from when it takes effect). For a customer on a prepaid-only plan, a quota answer also checks that the wallet covers the credits the usage would burn (credits). Either answer says why in words; with estimated_usage it also prices the call at the vendor rate in effect.',
      body: EntitlementRequestSchema,
      ok: { description: 'Allowed or not, and why', schema: EntitlementResponseSchema },
      handle: async (deps, { caller, body }) => {
        const now = new Date();
        if (body.feature !== undefined) {
          const [verdict, preview] = await Promise.all([
            checkFeature(deps.pgPool, caller.organizationId, { customerExternalId: body.customer_external_id, feature: body.feature, quantity: body.quantity }, now),
            costPreview(deps, caller.organizationId, body.estimated_usage),
          ]);
          return {
            allowed: verdict.allowed,
            reason: verdict.reason,
            limit: verdict.limit,
            mode: null,
            used: null,
            remaining: null,
            reset_at: null,
            feature: body.feature,
            kind: verdict.kind,
            value: verdict.value,
            plan_key: verdict.planKey,
            upgrade_options: verdict.upgradeOptions.map((o) => ({ plan_key: o.planKey, plan_name: o.planName, reason: o.reason })),
            ...preview,
          };
        }
        const [usage, preview] = await Promise.all([
          checkUsage(deps.pgPool, caller.organizationId, { customerExternalId: body.customer_external_id, eventType: body.event_type!, quantity: body.quantity, properties: body.properties }, now),
          costPreview(deps, caller.organizationId, body.estimated_usage),
        ]);
        return { ...usage, ...preview };
      },
    }),
  ],
};
