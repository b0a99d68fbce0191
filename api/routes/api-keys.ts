import { Router } from 'express';
import { createApiKey, revokeApiKey, setApiKeyScopes } from '../../prisma/api-keys';
import type { ApiKeyModel, PrismaClient } from '../../prisma/client';
import { DEFAULT_SCOPES } from '../../prisma/api-scopes';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { ApiKeyParamsSchema, CreateApiKeySchema, SetApiKeyScopesSchema } from '../schemas/api-keys';
import { parseOrThrow } from '../validation';
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

/**
 * The organization's API keys, for a key with the admin scope: list, create
 * (the secret answered once), replace scopes, revoke. Each change goes through
 * prisma/api-keys.ts, as the admin CLI's and the web app's do, audited with the
 * calling key as the actor.
 */
export function apiKeysRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const caller = callerOf(req);
    const keys = await deps.prisma.apiKey.findMany({ where: { organizationId: caller.organizationId }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }] });
    res.json({ data: keys.map(keyJson) });
  });

  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(CreateApiKeySchema, req.body, 'request');
    const created = await createApiKey(deps.prisma, caller.organizationId, body.name, apiKeyActor(caller), body.scopes ?? DEFAULT_SCOPES);
    res.status(201).json({ ...keyJson(await findKey(deps.prisma, caller.organizationId, created.id)), key: created.key });
  });

  router.patch('/:id', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(ApiKeyParamsSchema, req.params, 'path');
    const { scopes } = parseOrThrow(SetApiKeyScopesSchema, req.body, 'request');
    if (!(await setApiKeyScopes(deps.prisma, caller.organizationId, id, scopes, apiKeyActor(caller)))) {
      throw new ApiError(404, 'NOT_FOUND', `No active API key ${id} in your organization`);
    }
    res.json(keyJson(await findKey(deps.prisma, caller.organizationId, id)));
  });

  router.delete('/:id', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(ApiKeyParamsSchema, req.params, 'path');
    if (!(await revokeApiKey(deps.prisma, caller.organizationId, id, apiKeyActor(caller)))) {
      throw new ApiError(404, 'NOT_FOUND', `No active API key ${id} in your organization`);
    }
    res.json(keyJson(await findKey(deps.prisma, caller.organizationId, id)));
  });

  return router;
}
