import { Router } from 'express';
import { customerJson, CustomerUpdateSchema, ensureCustomer, updateCustomer } from '../../services/customers';
import { PaymentSetupRequestSchema, paymentSetupJson, startPaymentSetup } from '../../services/payment-setup';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { CustomerCreateSchema, CustomerListQuerySchema } from '../schemas/catalog';
import { parseOrThrow } from '../validation';
import { apiKeyActor, page } from './catalog-common';
import { upcomingInvoice } from './upcoming-invoice';

export function customersRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(CustomerCreateSchema, req.body, 'request');
    const { customer, created } = await deps.prisma.$transaction((tx) => ensureCustomer(tx, caller.organizationId, apiKeyActor(caller), body));
    res.status(created ? 201 : 200).json(customerJson(customer));
  });

  router.get('/', async (req, res) => {
    const caller = callerOf(req);
    const query = parseOrThrow(CustomerListQuerySchema, req.query, 'query');
    const rows = await deps.prisma.customer.findMany({
      where: { organizationId: caller.organizationId, ...(query.after ? { externalId: { gt: query.after } } : {}) },
      orderBy: { externalId: 'asc' },
      take: query.limit + 1,
    });
    const { data, has_more } = page(rows, query.limit);
    res.json({ data: data.map(customerJson), has_more });
  });

  router.get('/:external_id', async (req, res) => {
    const caller = callerOf(req);
    const customer = await deps.prisma.customer.findUnique({
      where: { organizationId_externalId: { organizationId: caller.organizationId, externalId: req.params.external_id } },
    });
    if (!customer) throw new ApiError(404, 'NOT_FOUND', `No customer ${req.params.external_id}`);
    res.json(customerJson(customer));
  });

  router.patch('/:external_id', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(CustomerUpdateSchema, req.body, 'request');
    const outcome = await updateCustomer(deps, caller.organizationId, req.params.external_id, body, apiKeyActor(caller));
    // 202 while Stripe is still being asked about the link: the customer as it is, and the workflow to follow.
    res.status(outcome.stripeLink === 'pending' ? 202 : 200).json({ ...customerJson(outcome.customer), ...(outcome.workflowId ? { workflow_id: outcome.workflowId } : {}) });
  });

  router.post('/:external_id/payment-setup', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(PaymentSetupRequestSchema, req.body, 'request');
    const outcome = await startPaymentSetup(deps, caller.organizationId, req.params.external_id, body, apiKeyActor(caller));
    // 202 while Stripe is still being asked: the workflow opens the page when it answers.
    if (outcome.kind === 'pending') res.status(202).json({ workflow_id: outcome.workflowId });
    else res.status(201).json(paymentSetupJson(outcome.session, outcome.workflowId));
  });

  router.get('/:id/upcoming-invoice', upcomingInvoice(deps));

  return router;
}
