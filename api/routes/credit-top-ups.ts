import { createTopUp, getTopUp, TopUpCreateSchema, TopUpIdParamsSchema, TopUpSchema } from '../../services/credit-top-ups';
import { answer, route, type RouteTable } from '../route-table';
import { apiKeyActor } from './catalog-common';

/** Buying credits through Stripe (services/credit-top-ups.ts). */
export const creditTopUpRoutes: RouteTable = {
  mount: '/credits',
  routes: [
    route({
      method: 'post',
      path: '/top-ups',
      summary: 'Buy credits for a customer: charged to its card on file, or invoiced to pay online',
      description:
        'Records the top-up and starts its workflow (credit-top-up:<id>): a Stripe invoice for credits × price_per_credit, finalized and charged to the card on file; or, with pay_by, sent to the customer to pay on Stripe\'s page (hosted_invoice_url, once sent) by then, voided if still unpaid at pay_by. The credits are granted when the payment succeeds, once. Answered pending; read it back for the outcome. Idempotent on idempotency_key.',
      body: TopUpCreateSchema,
      ok: { status: 202, description: 'Recorded; the charge runs in its workflow', schema: TopUpSchema },
      alsoOk: { '200': { description: 'A top-up with this idempotency_key existed; returned as it stands', schema: TopUpSchema } },
      errors: { '404': 'No such customer in your organization', '409': 'The idempotency_key was used for a top-up on other terms' },
      handle: async (deps, { caller, body }) => {
        const { topUp, created } = await createTopUp(deps, caller.organizationId, body, apiKeyActor(caller));
        return answer(created ? 202 : 200, topUp);
      },
    }),
    route({
      method: 'get',
      path: '/top-ups/{id}',
      summary: 'A credit top-up and where it stands',
      params: TopUpIdParamsSchema,
      ok: { description: 'The top-up', schema: TopUpSchema },
      errors: { '404': 'No such top-up in your organization' },
      handle: (deps, { caller, params }) => getTopUp(deps.prisma, caller.organizationId, params.id),
    }),
  ],
};
