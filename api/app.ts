import express, { type Express, type RequestHandler } from 'express';
import { admission } from './admission';
import { defaultApiConfig, type ApiConfig } from './config';
import type { ApiDeps } from './deps';
import { ApiError, errorHandler, notFoundRoute } from './errors';
import { createOpenApiDocument } from './openapi';
import { batchesRouter } from './routes/batches';
import { alertSettingsRouter } from './routes/alert-settings';
import { billingSettingsRouter } from './routes/billing-settings';
import { customersRouter } from './routes/customers';
import { entitlementsRouter } from './routes/entitlements';
import { eventsRouter } from './routes/events';
import { healthRouter } from './routes/health';
import { invoiceDecisionsRouter } from './routes/invoice-decisions';
import { invoicesReadRouter } from './routes/invoices-read';
import { metersRouter } from './routes/meters';
import { plansRouter } from './routes/plans';
import { quotesRouter } from './routes/quotes';
import { reconciliationsRouter } from './routes/reconciliations';
import { ratingRouter } from './routes/rating';
import { marginsRouter } from './routes/margins';
import { revenueRouter } from './routes/revenue';
import { stripeWebhooksRouter } from './routes/stripe-webhooks';
import { subscriptionChangesRouter } from './routes/subscription-changes';
import { subscriptionsRouter } from './routes/subscriptions';

/** Requests that carry a body must say it is JSON; anything else is a 415, not a confusing 400. */
const requireJson: RequestHandler = (req, _res, next) => {
  const hasBody = req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH';
  if (hasBody && !req.is('application/json')) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
  }
  next();
};

export function createApp(deps: ApiDeps, overrides: Partial<ApiConfig> = {}): Express {
  const config: ApiConfig = { ...defaultApiConfig, ...overrides };
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);

  app.use(healthRouter(deps));
  // Before any JSON parser: Stripe signs the raw bytes. Authenticated by that signature, not an API key.
  app.use('/webhooks/stripe', stripeWebhooksRouter(deps, config));
  let openapi: unknown;
  app.get('/api/openapi.json', (_req, res) => {
    openapi ??= createOpenApiDocument();
    res.json(openapi);
  });

  const v1 = express.Router();
  // IP budget, API key, key budget (api/admission.ts).
  v1.use(admission(deps.pgPool, config));
  v1.use(requireJson);
  v1.use(express.json({ limit: config.bodyLimit }));
  v1.use('/events', eventsRouter(deps, config));
  v1.use('/batches', batchesRouter(deps, config));
  v1.use('/rating', ratingRouter(deps));
  v1.use('/entitlements', entitlementsRouter(deps));
  v1.use('/quotes', quotesRouter());
  v1.use('/meters', metersRouter(deps));
  v1.use('/plans', plansRouter(deps));
  v1.use('/customers', customersRouter(deps));
  v1.use('/subscriptions', subscriptionsRouter(deps, config));
  v1.use('/revenue', revenueRouter(deps, config));
  v1.use('/margins', marginsRouter(deps));
  v1.use('/subscriptions', subscriptionChangesRouter(deps, config));
  v1.use('/invoices', invoicesReadRouter(deps));
  v1.use('/invoices', invoiceDecisionsRouter(deps));
  v1.use('/settings/billing', billingSettingsRouter(deps));
  v1.use('/settings/alerts', alertSettingsRouter(deps));
  // /reconciliations and /reported-usage
  v1.use(reconciliationsRouter(deps));
  app.use('/api/v1', v1);

  app.use(notFoundRoute);
  app.use(errorHandler(config.log));
  return app;
}
