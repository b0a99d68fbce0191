import type { RequestListener } from 'node:http';
import bytes from 'bytes';
import express, { type Express, type RequestHandler } from 'express';
import { admission } from './admission';
import { BodyBudget, budgetedBodies } from './body-budget';
import { requireScope } from './auth';
import { defaultApiConfig, type ApiConfig } from './config';
import { DocumentedPaths } from './documented-paths';
import { methodNotAllowed } from './method-not-allowed';
import type { ApiDeps } from './deps';
import { findUnstorableText } from '../billing/storable-text';
import { identified, inRequestContext } from '../services/request-context';
import { ApiError, errorHandler, notFoundRoute } from './errors';
import { BacklogGate } from './ingest/backlog-gate';
import { withIngestFastLane } from './ingest/fast-lane';
import type { Ingest } from './ingest/ingest-request';
import { createMetrics } from './metrics';
import { GroupCommitter } from './ingest/group-commit';
import { createOpenApiDocument } from './openapi';
import { healthRouter } from './routes/health';
import { tableRouter } from './route-table';
import { ROUTE_TABLES } from './route-tables';
import { stripeWebhooksRouter } from './routes/stripe-webhooks';
import { exactJsonBody } from './exact-json';

function unstorable(where: string, field: string, message: string): ApiError {
  return new ApiError(400, 'VALIDATION_ERROR', `Invalid ${where}: ${message}`, { field, issues: [{ code: 'INVALID_TEXT', field, message }] });
}

/**
 * Text PostgreSQL cannot store (billing/storable-text.ts) is a 400 naming its
 * field, before any route reads the database with it or hands it to a
 * workflow. Event batches are checked event by event instead (one bad event
 * does not refuse the others), so POST /events is left to its validation.
 */
const requireStorableText: RequestHandler = (req, _res, next) => {
  if (/%00/i.test(req.path)) throw unstorable('path', 'path', 'the path contains a NUL character (%00)');
  const inQuery = findUnstorableText(req.query);
  if (inQuery) throw unstorable('query', inQuery.field, inQuery.message);
  if (!(req.method === 'POST' && req.path === '/events')) {
    const inBody = findUnstorableText(req.body);
    if (inBody) throw unstorable('request', inBody.field, inBody.message);
  }
  next();
};

/** Requests that carry a body must say it is JSON; anything else is a 415, not a confusing 400. */
const requireJson: RequestHandler = (req, _res, next) => {
  const hasBody = req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH';
  // A body that is not JSON is refused; no body at all is fine where the operation takes none (rotate a secret, redeliver),
  // and where it takes one its schema names what is missing. (req.is: null without a body, false for another type;
  // an empty body announced with Content-Length: 0 counts as none.)
  if (hasBody && req.get('content-length') !== '0' && req.is('application/json') === false) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
  }
  next();
};

export interface Api {
  /** the Express app: every route */
  app: Express;
  /** what the HTTP server runs: the ingest fast lane in front of the app */
  handler: RequestListener;
  /** stops the background work (backlog reading, heartbeat); call it before closing the pools */
  stop(): void;
}

export function createApi(deps: ApiDeps, overrides: Partial<ApiConfig> = {}): Api {
  const config: ApiConfig = { ...defaultApiConfig, ...overrides };
  const app = express();
  app.disable('x-powered-by');
  // An ETag is a SHA-1 of every response body: work on every request for caching no API client does.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);

  const base = {
    writer: new GroupCommitter(deps.pgPool, { writers: config.ingestWriters, maxEventsPerGroup: config.ingestMaxEventsPerGroup, log: config.log }),
    backlog: new BacklogGate(
      deps.pgPool,
      { maxEvents: config.ingestMaxBacklogEvents, maxAgeSeconds: config.ingestMaxBacklogAgeSeconds, refreshMs: config.ingestBacklogRefreshMs },
      config.log,
    ),
  };
  const admitted = admission(deps.pgPool, config);
  const bodyLimitBytes = bytes.parse(config.bodyLimit) ?? 0;
  const budget = config.bodyBudgetBytes > 0 ? new BodyBudget({ capacityBytes: config.bodyBudgetBytes, maxWaitMs: config.bodyBudgetWaitMs }) : null;
  let openapi: ReturnType<typeof createOpenApiDocument> | undefined;
  const document = () => (openapi ??= createOpenApiDocument());
  const documented = new DocumentedPaths(document);
  const metrics = createMetrics(base, deps.pgPool, documented, budget);
  const ingest: Ingest = { ...base, counted: metrics.ingested };
  // The ingest route (api/routes/events.ts) reads it from here.
  app.locals.ingest = ingest;

  app.use(healthRouter(deps, ingest.backlog));
  app.use(metrics.router);
  app.use(methodNotAllowed(documented));
  // Before any JSON parser: Stripe signs the raw bytes. Authenticated by that signature, not an API key.
  app.use('/webhooks/stripe', stripeWebhooksRouter(deps, config));
  app.get('/api/openapi.json', (_req, res) => {
    res.json(document());
  });

  const v1 = express.Router();
  // IP budget (for keys that need a lookup), API key, organization and key budgets (api/admission.ts).
  v1.use(admitted.middleware);
  v1.use(requireScope);
  v1.use(requireJson);
  if (budget) v1.use(budgetedBodies(budget, bodyLimitBytes));
  v1.use(exactJsonBody(config.bodyLimit));
  v1.use(requireStorableText);
  // After the body is read (its stream callbacks run outside any context): log lines and what the routes send to Temporal name the request and its span.
  v1.use((req, _res, next) => inRequestContext(req, next));
  // Operations declared in route tables (api/route-table.ts): router and document from one declaration.
  for (const table of ROUTE_TABLES) v1.use(table.mount || '/', tableRouter(table, deps, config));
  app.use('/api/v1', v1);

  app.use(notFoundRoute);
  app.use(errorHandler(config.log));
  return {
    app,
    handler: metrics.timed(identified(withIngestFastLane(app, { admission: admitted, ingest, bodyLimitBytes, budget, log: config.log }), { routeOf: (path) => documented.routeOf(path), ...(config.accessLog ? { log: config.accessLog } : {}) })),
    stop() {
      ingest.backlog.stop();
      admitted.stop();
    },
  };
}
