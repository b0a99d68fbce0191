import { createApiKey, revokeApiKey, setApiKeyScopes } from '../../prisma/api-keys';
import type { ApiKeyModel, PrismaClient } from '../../prisma/client';
import { DEFAULT_SCOPES } from '../../prisma/api-scopes';
import { ApiError } from '../errors';
import { route, type RouteTable } from '../route-table';
import { ApiKeyListSchema, ApiKeyParamsSchema, ApiKeySchema, CreatedApiKeySchema, CreateApiKeySchema, SetApiKeyScopesSchema } from '../schemas/api-keys';
import { apiKeyActor } from './catalog-common';

const keyJson = (k: ApiKeyModel) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  created_at: k.createdAt.toISOString(),
  revoked_at: k.revokedAt?.toISOString() ?? null,
});

async function findKey(prisma: PrismaClient, organizationId: string, id: string): Promise<ApiKeyModel> {
  const key = await prisma.apiKey.findFirst({ where: { id, organizationId } });
  if (!key) throw new ApiError(404, 'NOT_FOUND', `No API key ${id} in your organization`);
  return key;
}

const notFound = { '404': 'No such key in your organization (or, for a change, it is revoked)' };

/**
 * The organization's API keys, for a key with the admin scope: list, create
 * (the secret answered once), replace scopes, revoke. Each change goes through
 * prisma/api-keys.ts, as the admin CLI's and the web app's do, audited with the
 * calling key as the actor.
 */
export const apiKeyRoutes: RouteTable = {
  mount: '/api-keys',
  routes: [
    route({
      method: 'get',
      path: '',
      summary: "Your organization's API keys (never their secrets)",
      ok: { description: 'The keys', schema: ApiKeyListSchema },
      handle: async (deps, { caller }) => {
        const keys = await deps.prisma.apiKey.findMany({ where: { organizationId: caller.organizationId }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }] });
        return { data: keys.map(keyJson) };
      },
    }),
    route({
      method: 'post',
      path: '',
      summary: 'Create an API key',
      description: 'The secret is in the answer once and never again. Recorded in the audit log (api_key.created) as made by the calling key.',
      body: CreateApiKeySchema,
      ok: { status: 201, description: 'Created', schema: CreatedApiKeySchema },
      handle: async (deps, { caller, body }) => {
        const created = await createApiKey(deps.prisma, caller.organizationId, body.name, apiKeyActor(caller), body.scopes ?? DEFAULT_SCOPES);
        return { ...keyJson(await findKey(deps.prisma, caller.organizationId, created.id)), key: created.key };
      },
    }),
    route({
      method: 'patch',
      path: '/{id}',
      summary: "Replace a key's scopes",
      description: "Applies within the API's key cache time (3 s by default). Audited (api_key.scopes_set, before and after).",
      params: ApiKeyParamsSchema,
      body: SetApiKeyScopesSchema,
      ok: { description: 'The key, as now stored', schema: ApiKeySchema },
      errors: notFound,
      handle: async (deps, { caller, params, body }) => {
        if (!(await setApiKeyScopes(deps.prisma, caller.organizationId, params.id, body.scopes, apiKeyActor(caller)))) {
          throw new ApiError(404, 'NOT_FOUND', `No active API key ${params.id} in your organization`);
        }
        return keyJson(await findKey(deps.prisma, caller.organizationId, params.id));
      },
    }),
    route({
      method: 'delete',
      path: '/{id}',
      summary: 'Revoke a key',
      description: "For good: a revoked key is refused (401) within the API's key cache time. Audited (api_key.revoked). A key may revoke itself.",
      params: ApiKeyParamsSchema,
      ok: { description: 'The key, revoked', schema: ApiKeySchema },
      errors: notFound,
      handle: async (deps, { caller, params }) => {
        if (!(await revokeApiKey(deps.prisma, caller.organizationId, params.id, apiKeyActor(caller)))) {
          throw new ApiError(404, 'NOT_FOUND', `No active API key ${params.id} in your organization`);
        }
        return keyJson(await findKey(deps.prisma, caller.organizationId, params.id));
      },
    }),
  ],
};
