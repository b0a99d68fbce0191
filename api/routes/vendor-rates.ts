import { addVendorRate, listVendorRates, providersPricing, ProvidersPricingQuerySchema, ProvidersPricingSchema, VendorRateCreateSchema, VendorRateListQuerySchema, VendorRateListSchema, VendorRateSchema } from '../../services/vendor-rates';
import { route, type RouteTable } from '../route-table';
import { apiKeyActor } from './catalog-common';

/** The caller's organization's vendor rates (services/vendor-rates.ts): listed with their history, added, never edited. */
export const vendorRateRoutes: RouteTable = {
  mount: '/vendor-rates',
  routes: [
    route({
      method: 'post',
      path: '',
      summary: 'Add a vendor rate: what a model vendor charges per million tokens of each kind, per image, second or request, from an instant on',
      description:
        'Rates are never edited: a price change is a new rate with a later effective_from, which supersedes the earlier ones from then on (the latest start in effect wins). Events already rated keep the rate they were rated with, so a rate starts now or later, or earlier only where the vendor and model had no rate. A rate sets at least one price; cache reads and writes without their own price cost the input price, reasoning the output price, and other usage without a price is left unpriced.',
      body: VendorRateCreateSchema,
      ok: { status: 201, description: 'Created', schema: VendorRateSchema },
      errors: { '409': 'This vendor and model have a rate starting at that instant' },
      handle: (deps, { caller, body }) => addVendorRate(deps.prisma, caller.organizationId, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '',
      summary: 'Vendor rates with their history, by vendor, model and start',
      query: VendorRateListQuerySchema,
      ok: { description: 'Every rate, each with when it was superseded and whether it is in effect now', schema: VendorRateListSchema },
      handle: (deps, { caller, query }) => listVendorRates(deps.prisma, caller.organizationId, query),
    }),
  ],
};

/** The caller's organization's price book by provider (services/vendor-rates.ts providersPricing). */
export const providerRoutes: RouteTable = {
  mount: '/providers',
  routes: [
    route({
      method: 'get',
      path: '/pricing',
      summary: 'The price book: per provider and model, the vendor rate in effect now and those announced for later',
      description: 'What usage sent now costs at each vendor (provider) and model, and what changes when. The full history of rates is GET /api/v1/vendor-rates.',
      query: ProvidersPricingQuerySchema,
      ok: { description: 'Providers, their models and rates', schema: ProvidersPricingSchema },
      handle: (deps, { caller, query }) => providersPricing(deps.prisma, caller.organizationId, query),
    }),
  ],
};
