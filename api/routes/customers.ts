import { z } from 'zod';
import { customerJson, CustomerUpdateSchema, ensureCustomer, updateCustomer, WITH_PARENT } from '../../services/customers';
import { PaymentSetupRequestSchema, paymentSetupJson, PaymentSetupSessionSchema, startPaymentSetup } from '../../services/payment-setup';
import { ApiError } from '../errors';
import { answer, route, type RouteTable } from '../route-table';
import { CustomerCreateSchema, CustomerListQuerySchema, CustomerSchema, ExternalIdParamsSchema, listOf } from '../../services/schemas/catalog';
import { CustomerIdParamsSchema, UpcomingInvoiceSchema } from '../schemas/upcoming-invoice';
import { apiKeyActor, page } from './catalog-common';
import { upcomingInvoice } from './upcoming-invoice';

const notFound = { '404': 'No such customer in your organization' };

/** Customers (services/customers.ts): create, list, read, edit (and link to Stripe), a card setup page, and the upcoming invoice. */
export const customerRoutes: RouteTable = {
  mount: '/customers',
  routes: [
    route({
      method: 'post',
      path: '',
      summary: 'Create a customer (idempotent on external_id)',
      body: CustomerCreateSchema,
      ok: { status: 201, description: 'Created', schema: CustomerSchema },
      alsoOk: { '200': { description: 'The customer already existed; returned unchanged', schema: CustomerSchema } },
      handle: async (deps, { caller, body }) => {
        const { customer, created } = await deps.prisma.$transaction((tx) => ensureCustomer(tx, caller.organizationId, apiKeyActor(caller), body));
        return answer(created ? 201 : 200, customerJson(customer));
      },
    }),
    route({
      method: 'get',
      path: '',
      summary: 'List customers by external_id',
      query: CustomerListQuerySchema,
      ok: { description: 'One page of customers', schema: listOf(CustomerSchema, 'CustomerList') },
      handle: async (deps, { caller, query }) => {
        const rows = await deps.prisma.customer.findMany({
          where: { organizationId: caller.organizationId, ...(query.after ? { externalId: { gt: query.after } } : {}) },
          orderBy: { externalId: 'asc' },
          take: query.limit + 1,
          include: WITH_PARENT,
        });
        const { data, has_more } = page(rows, query.limit);
        return { data: data.map(customerJson), has_more };
      },
    }),
    route({
      method: 'get',
      path: '/{external_id}',
      summary: 'A customer',
      params: ExternalIdParamsSchema,
      ok: { description: 'The customer', schema: CustomerSchema },
      errors: notFound,
      handle: async (deps, { caller, params }) => {
        const customer = await deps.prisma.customer.findUnique({ where: { organizationId_externalId: { organizationId: caller.organizationId, externalId: params.external_id } }, include: WITH_PARENT });
        if (!customer) throw new ApiError(404, 'NOT_FOUND', `No customer ${params.external_id}`);
        return customerJson(customer);
      },
    }),
    route({
      method: 'patch',
      path: '/{external_id}',
      summary: 'Edit a customer: name, billing email, the link to an existing Stripe customer, and the team pool it draws credits from',
      description:
        'stripe_customer_id links the customer to a customer that already exists in your Stripe account (else its first finalized invoice creates one there). The worker asks Stripe for it first, before anything else changes: a missing or deleted customer, or in the Stripe account organizations share one not made for yours, is a 400 naming the field; one linked to another customer already, or a change of a customer invoiced in Stripe (or approved, about to be), is a 409. Then name and email, only what differs. Every change is an audit row.',
      params: ExternalIdParamsSchema,
      body: CustomerUpdateSchema,
      ok: { description: 'The customer as changed', schema: CustomerSchema },
      alsoOk: { '202': { description: 'Stripe is still being asked about the link: the customer as it is; the link is written when Stripe answers (follow workflow_id)', schema: CustomerSchema } },
      errors: {
        ...notFound,
        '409':
          'The Stripe customer is linked to another customer, this customer is invoiced in Stripe under its current one, the link changed meanwhile, or another link of it is being checked; or the team pool is refused: the parent is in a pool itself or this customer is a pool\'s parent (POOL_NESTED), or this customer has a credit wallet of its own (CUSTOMER_HAS_WALLET)',
        '503': 'Stripe did not answer after retries; nothing changed',
      },
      handle: async (deps, { caller, params, body }) => {
        const outcome = await updateCustomer(deps, caller.organizationId, params.external_id, body, apiKeyActor(caller));
        // 202 while Stripe is still being asked about the link: the customer as it is, and the workflow to follow.
        return answer(outcome.stripeLink === 'pending' ? 202 : 200, { ...customerJson(outcome.customer), ...(outcome.workflowId ? { workflow_id: outcome.workflowId } : {}) });
      },
    }),
    route({
      method: 'post',
      path: '/{external_id}/payment-setup',
      summary: 'A hosted Stripe page where the customer saves a card for their invoices',
      description:
        "Opens a Stripe Checkout session in setup mode for the customer (its Stripe customer is made now if it has none) and answers the page's URL to send the customer to. Until a customer has a card, its invoices are sent to pay by their due date (invoice_collection auto); with invoice_collection auto, the first invoice finalized after the card is saved is charged to it, and so are payment retries. A request sent again with its request_key answers the same page. Audited as customer.payment_setup_started.",
      params: ExternalIdParamsSchema,
      body: PaymentSetupRequestSchema,
      ok: { status: 201, description: 'The page is open', schema: PaymentSetupSessionSchema },
      alsoOk: { '202': { description: 'Stripe is still being asked; the workflow opens the page when it answers', schema: z.object({ workflow_id: z.string() }).meta({ id: 'PaymentSetupPending' }) } },
      errors: {
        ...notFound,
        '409': "The request_key was sent before with a different request (REQUEST_KEY_REUSED), or the organization's Stripe key (or the deployment's) is missing or refused",
        '503': 'Stripe did not answer after retries; no page was opened',
      },
      handle: async (deps, { caller, params, body }) => {
        const outcome = await startPaymentSetup(deps, caller.organizationId, params.external_id, body, apiKeyActor(caller));
        // 202 while Stripe is still being asked: the workflow opens the page when it answers.
        return outcome.kind === 'pending' ? answer(202, { workflow_id: outcome.workflowId }) : paymentSetupJson(outcome.session, outcome.workflowId);
      },
    }),
    route({
      method: 'get',
      path: '/{id}/upcoming-invoice',
      summary: "What the customer's current periods would bill if they closed now",
      description:
        "Per subscription with a current period: the base fee (prorated for a start, plan changes or a cancellation inside the period), each priced meter's usage so far priced by its model with the tier breakdown, and late usage of earlier closed periods not billed yet. Composed by the same rules as the invoice the period's billing run drafts; reading it changes nothing (no event is claimed, no snapshot written).",
      params: CustomerIdParamsSchema,
      ok: { description: 'The preview; subscriptions is empty when nothing would bill', schema: UpcomingInvoiceSchema },
      errors: notFound,
      handle: (deps, { caller, params }) => upcomingInvoice(deps, caller.organizationId, params.id),
    }),
  ],
};
