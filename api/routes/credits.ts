import {
  CreditGrantCreateSchema,
  CreditGrantSchema,
  grantCredits,
  LedgerEntryListQuerySchema,
  LedgerEntrySchema,
  listLedgerEntries,
  readWallet,
  updateWallet,
  WalletSchema,
  WalletUpdateSchema,
} from '../../services/credits';
import { listOf } from '../../services/schemas/catalog';
import { CustomerIdParamsSchema } from '../schemas/upcoming-invoice';
import { answer, route, type RouteTable } from '../route-table';
import { pgRawDb } from '../../prisma/raw-db';
import { apiKeyActor } from './catalog-common';

const notFound = { '404': 'No such customer in your organization' };

/** A customer's prepaid credits (services/credits.ts): grants, the wallet's balance by grant, and the ledger behind it. */
export const creditRoutes: RouteTable = {
  mount: '/customers',
  routes: [
    route({
      method: 'post',
      path: '/{id}/credit-grants',
      summary: "Grant credits to a customer's wallet",
      description:
        'Writes the grant and its ledger transaction (issuance → the grant) in one database transaction, with an audit row. Idempotent on idempotency_key: a repeat answers 200 with the grant made the first time.',
      params: CustomerIdParamsSchema,
      body: CreditGrantCreateSchema,
      ok: { status: 201, description: 'Granted', schema: CreditGrantSchema },
      alsoOk: { '200': { description: 'A grant with this idempotency_key existed; returned unchanged', schema: CreditGrantSchema } },
      errors: { ...notFound, '409': 'The idempotency_key was used for a grant to another customer or on other terms', '503': 'The grant is recorded but Temporal did not take its expiry timer; send the request again with the same idempotency_key' },
      handle: async (deps, { caller, params, body }) => {
        const { grant, created } = await grantCredits(deps, caller.organizationId, params.id, body, apiKeyActor(caller));
        return answer(created ? 201 : 200, grant);
      },
    }),
    route({
      method: 'get',
      path: '/{id}/wallet',
      summary: "A customer's credit balance, by grant",
      description: 'Every balance is derived from the ledger entries, never stored.',
      params: CustomerIdParamsSchema,
      ok: { description: 'The wallet', schema: WalletSchema },
      errors: notFound,
      handle: (deps, { caller, params }) => readWallet(pgRawDb(deps.pgPool), caller.organizationId, params.id),
    }),
    route({
      method: 'patch',
      path: '/{id}/wallet',
      summary: "Change a customer's wallet settings (its low-balance alert)",
      description: 'Makes the wallet when the customer has none yet. An audit row records a change.',
      params: CustomerIdParamsSchema,
      body: WalletUpdateSchema,
      ok: { description: 'The wallet', schema: WalletSchema },
      errors: notFound,
      handle: (deps, { caller, params, body }) => updateWallet(deps.prisma, caller.organizationId, params.id, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '/{id}/wallet/entries',
      summary: "A customer's credit ledger entries, oldest first",
      params: CustomerIdParamsSchema,
      query: LedgerEntryListQuerySchema,
      ok: { description: 'One page of entries', schema: listOf(LedgerEntrySchema, 'CreditLedgerEntryList') },
      errors: notFound,
      handle: (deps, { caller, params, query }) => listLedgerEntries(deps.prisma, caller.organizationId, params.id, query),
    }),
  ],
};
