import { z } from 'zod';
import 'zod-openapi';
import { API_SCOPES } from '../../prisma/api-scopes';
import { trimmedText } from './common';

const scopes = z
  .array(z.enum(API_SCOPES))
  .min(1)
  .max(API_SCOPES.length)
  .refine((list) => new Set(list).size === list.length, 'names a scope twice')
  .meta({ description: 'What the key may do (README, "API key scopes"); scopes do not imply one another', example: ['read', 'billing'], uniqueItems: true });

export const ApiKeyParamsSchema = z.object({ id: z.uuid().meta({ description: 'The key\'s id' }) });

export const CreateApiKeySchema = z
  .strictObject({
    name: trimmedText(100).meta({ description: 'What uses the key, shown in lists and the audit log', example: 'finance bot' }),
    scopes: scopes.optional().meta({ description: 'What the key may do; omitted: ingest only' }),
  })
  .meta({ id: 'CreateApiKeyRequest' });

export const SetApiKeyScopesSchema = z.strictObject({ scopes }).meta({ id: 'SetApiKeyScopesRequest' });

export const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().meta({ description: 'The first characters of the key, to recognise it', example: 'lf_4f2aXk9' }),
    scopes: z.array(z.enum(API_SCOPES)),
    created_at: z.string().meta({ description: 'ISO 8601' }),
    revoked_at: z.string().nullable().meta({ description: 'ISO 8601; a revoked key is refused (401) within the API\'s key cache time' }),
  })
  .meta({ id: 'ApiKey' });

export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().meta({ description: 'The secret, shown this once: only its SHA-256 is stored', example: 'lf_4f2aXk9…' }),
}).meta({ id: 'CreatedApiKey' });

export const ApiKeyListSchema = z.object({ data: z.array(ApiKeySchema).meta({ description: 'Newest first, revoked ones too' }) }).meta({ id: 'ApiKeyList' });
