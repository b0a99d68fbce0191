import type { RouteTable } from './route-table';
import { apiKeyRoutes } from './routes/api-keys';
import { batchRoutes } from './routes/batches';
import { creditNoteRoutes } from './routes/credit-notes';
import { customerRoutes } from './routes/customers';
import { entitlementRoutes } from './routes/entitlements';
import { eventRoutes } from './routes/events';
import { invoiceDecisionRoutes } from './routes/invoice-decisions';
import { invoiceReadRoutes } from './routes/invoices-read';
import { marginRoutes } from './routes/margins';
import { revenueRoutes } from './routes/revenue';
import { settingsRoutes } from './routes/settings';
import { meterRoutes } from './routes/meters';
import { planFeatureRoutes } from './routes/plan-features';
import { planRoutes } from './routes/plans';
import { quotaLimitRoutes } from './routes/quota-limits';
import { creditRoutes } from './routes/credits';
import { creditBurnRateRoutes } from './routes/credit-burn-rates';
import { creditReservationRoutes } from './routes/credit-reservations';
import { creditTopUpRoutes } from './routes/credit-top-ups';
import { proxyRoutes } from './routes/proxy';
import { quoteRoutes } from './routes/quotes';
import { ratingRoutes } from './routes/rating';
import { reconciliationRoutes } from './routes/reconciliations';
import { subscriptionRoutes } from './routes/subscriptions';
import { unpricedEventRoutes } from './routes/unpriced-events';
import { providerRoutes, vendorRateRoutes } from './routes/vendor-rates';
import { webhookDeliveryRoutes, webhookEndpointRoutes, webhookEventTypeRoutes } from './routes/webhook-endpoints';

/** Every route table, mounted under /api/v1 by api/app.ts and documented by api/openapi.ts. */
export const ROUTE_TABLES: readonly RouteTable[] = [
  eventRoutes,
  batchRoutes,
  ratingRoutes,
  entitlementRoutes,
  quoteRoutes,
  invoiceReadRoutes,
  invoiceDecisionRoutes,
  creditNoteRoutes,
  meterRoutes, planRoutes, customerRoutes, creditRoutes, creditBurnRateRoutes, creditReservationRoutes, creditTopUpRoutes, revenueRoutes, marginRoutes, settingsRoutes, apiKeyRoutes, reconciliationRoutes, planFeatureRoutes, quotaLimitRoutes, subscriptionRoutes, vendorRateRoutes, providerRoutes, unpricedEventRoutes, webhookEndpointRoutes, webhookDeliveryRoutes, webhookEventTypeRoutes, proxyRoutes];
