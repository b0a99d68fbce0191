import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import 'zod-openapi';
import { DomainError } from '../../services/errors';
import { PROXY_VENDORS, proxyServiceToken } from '../../services/proxy-upstreams';
import { ApiError } from '../errors';
import { ingestRequest } from '../ingest/ingest-request';
import { route, type RouteTable } from '../route-table';
import { IngestRequestSchema, IngestResponseSchema } from '../schemas/events';
import { checkUsage } from '../usage-check';
import { ingestOf } from './events';

let serviceToken: Buffer | undefined;
/** Whether a request carries the proxy's own token (services/proxy-upstreams.ts proxyServiceToken). */
function fromTheProxy(header: string | string[] | undefined): boolean {
  serviceToken ??= Buffer.from(proxyServiceToken());
  const sent = Buffer.from(typeof header === 'string' ? header : '');
  return sent.length === serviceToken.length && timingSafeEqual(sent, serviceToken);
}

const AuthorizeSchema = z
  .strictObject({
    vendor: z.enum(PROXY_VENDORS).meta({ description: 'The protocol of the call about to be forwarded' }),
    customer_external_id: z.string().min(1, 'must not be empty').max(255, 'must be at most 255 characters').meta({ description: 'The customer the call is metered to' }),
  })
  .meta({ id: 'ProxyAuthorizeRequest' });

const AuthorizeResponseSchema = z
  .object({
    organization_id: z.uuid(),
    event_type: z.string().meta({ description: 'What the call is metered as (the upstream\'s event_type)' }),
    allowed: z.boolean(),
    reason: z.string(),
  })
  .meta({ id: 'ProxyAuthorizeResponse' });

/**
 * What the AI proxy (proxy/) asks before it forwards a call, with the caller's own key (scope `proxy`): whose
 * call it is, what it is metered as, and whether the customer may make it now: the entitlement check of
 * POST /entitlements/check for one unit of the upstream's event type (a HARD quota already reached, or a
 * prepaid-only wallet that cannot cover one unit, refuses it). The vendor key is never part of the answer: the
 * proxy reads it from the database.
 */
export const proxyRoutes: RouteTable = {
  mount: '/proxy',
  routes: [
    route({
      method: 'post',
      path: '/authorize',
      summary: 'For the AI proxy: may this customer make a call now, and what is it metered as?',
      description:
        'Asked by the proxy before it forwards each call. Needs a key with the proxy scope. 409 PROXY_UPSTREAM_MISSING when the organization has no upstream for the vendor (PUT /settings/proxy-upstreams/{vendor}).',
      body: AuthorizeSchema,
      ok: { description: 'The organization, the event type and the verdict', schema: AuthorizeResponseSchema },
      errors: { '409': 'PROXY_UPSTREAM_MISSING: the organization has no upstream for this vendor' },
      handle: async (deps, { caller, body }) => {
        const { rows } = await deps.pgPool.query<{ event_type: string }>('SELECT event_type FROM proxy_upstreams WHERE organization_id = $1 AND vendor = $2', [caller.organizationId, body.vendor]);
        const upstream = rows[0];
        if (!upstream) {
          throw new DomainError('conflict', 'PROXY_UPSTREAM_MISSING', `no ${body.vendor} upstream is configured for this organization: an admin sets one with PUT /api/v1/settings/proxy-upstreams/${body.vendor}`, 'vendor');
        }
        const verdict = await checkUsage(deps.pgPool, caller.organizationId, { customerExternalId: body.customer_external_id, eventType: upstream.event_type, quantity: '1' }, new Date());
        return { organization_id: caller.organizationId, event_type: upstream.event_type, allowed: verdict.allowed, reason: verdict.reason };
      },
    }),
    route({
      method: 'post',
      path: '/events',
      summary: 'For the AI proxy: the usage event of a call it served',
      description:
        'Only the proxy posts here: besides a key with the proxy scope it sends x-ledgerflow-proxy-token, which it derives from the deployment\'s LEDGERFLOW_SECRET_KEY, so a caller\'s key alone cannot record usage. The events are those of POST /events, their idempotency keys proxy:<vendor>:<response id> (keys POST /events refuses from anyone else), stored through the same ingest path; being calls already served, a HARD quota counts them and never refuses them (the proxy refuses the next call instead).',
      body: IngestRequestSchema,
      bodyCheckedByHandler: true,
      ok: { status: 202, description: 'Stored', schema: IngestResponseSchema },
      errors: { '403': 'Not the proxy: x-ledgerflow-proxy-token is missing or wrong' },
      handle: (_deps, { caller, req }) => {
        if (!fromTheProxy(req.headers['x-ledgerflow-proxy-token'])) throw new ApiError(403, 'NOT_THE_PROXY', 'Only the Ledgerflow proxy posts its calls\' events here (x-ledgerflow-proxy-token)');
        return ingestRequest(ingestOf(req), caller, req.body, true);
      },
    }),
  ],
};
