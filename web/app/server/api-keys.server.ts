import type { AppLoadContext } from 'react-router';
import { isApiScope } from '../../../prisma/api-scopes';
import { createApiKey, revokeApiKey } from '../../../prisma/api-keys';
import type { SignedInUser } from './auth.server';

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export type ApiKeyOutcome =
  | { ok: true; message: string; created?: { name: string; prefix: string; key: string } }
  | { ok: false; message: string };

const NAME_MAX = 100;

/** The organization's API keys, newest first; never their secrets (only hashes are stored). */
export async function listApiKeys(context: AppLoadContext, organizationId: string): Promise<ApiKeyRow[]> {
  const keys = await context.prisma.apiKey.findMany({ where: { organizationId }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }] });
  return keys.map((k) => ({
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  }));
}

/** One key of the organization (for the revoke confirmation), or null. */
export async function findApiKey(context: AppLoadContext, organizationId: string, id: string | null): Promise<ApiKeyRow | null> {
  if (!id || !/^[0-9a-f-]{36}$/i.test(id)) return null;
  return (await listApiKeys(context, organizationId)).find((k) => k.id === id) ?? null;
}

/**
 * The forms of the API keys page. Creation and revocation go through
 * prisma/api-keys.ts, as the admin command's do; the audit row names the
 * person (the same actor shape as a finance decision).
 */
export async function applyApiKeyForm(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<ApiKeyOutcome> {
  const actor = { type: 'user', id: user.email } as const;
  const intent = form.get('intent');
  if (intent === 'create') {
    const name = String(form.get('name') ?? '').trim();
    if (!name) return { ok: false, message: 'Give the key a name, e.g. the system that will use it.' };
    if (name.length > NAME_MAX) return { ok: false, message: `A key name has at most ${NAME_MAX} characters.` };
    const chosen = form.getAll('scope').map(String);
    const unknown = chosen.find((s) => !isApiScope(s));
    if (unknown !== undefined) return { ok: false, message: `Unknown scope "${unknown}".` };
    const scopes = chosen.filter(isApiScope);
    if (scopes.length === 0) return { ok: false, message: 'Choose at least one scope: what the key may do.' };
    const created = await createApiKey(context.prisma, user.organizationId, name, actor, scopes);
    return { ok: true, message: `Created the key "${name}" (scopes: ${created.scopes.join(', ')}).`, created: { name, prefix: created.prefix, key: created.key } };
  }
  if (intent === 'revoke') {
    const key = await findApiKey(context, user.organizationId, String(form.get('id') ?? ''));
    if (!key) return { ok: false, message: 'No such API key in this organization.' };
    const revoked = await revokeApiKey(context.prisma, user.organizationId, key.id, actor);
    return revoked ? { ok: true, message: `Revoked "${key.name}" (${key.prefix}…); the API refuses it within seconds (it caches keys briefly).` } : { ok: false, message: `"${key.name}" was already revoked.` };
  }
  return { ok: false, message: `Unknown action "${String(intent)}".` };
}
