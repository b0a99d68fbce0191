import type Stripe from 'stripe';
import type { PrismaClient } from '../../prisma/client';
import { openOrganizationSecret } from '../../prisma/organization-secrets';
import { createStripeClient, type StripeClientOptions } from './client';

/**
 * The Stripe clients of organizations that stored their own secret key
 * (PATCH /api/v1/settings/alerts stripe_secret_key, sealed at rest). Billing
 * activities ask for the organization's client first and fall back to the
 * worker's own (STRIPE_SECRET_KEY). A key is read and opened at most once a
 * minute per organization; a changed key gets a new client.
 */
export interface StripeAccounts {
  /** the organization's own client, or null when it has no key of its own */
  clientFor(organizationId: string): Promise<Stripe | null>;
}

export function createStripeAccounts(prisma: PrismaClient, options: Omit<StripeClientOptions, 'apiKey'> = {}, ttlMs = 60_000, now: () => number = Date.now): StripeAccounts {
  const keys = new Map<string, { key: Promise<string | null>; expiresAt: number }>();
  const clients = new Map<string, Stripe>();
  const readKey = async (organizationId: string): Promise<string | null> => {
    const org = await prisma.organization.findUnique({ where: { id: organizationId }, select: { stripeSecretKeyEnc: true } });
    return openOrganizationSecret('stripe_secret_key', organizationId, org?.stripeSecretKeyEnc ?? null);
  };
  return {
    async clientFor(organizationId) {
      let entry = keys.get(organizationId);
      if (!entry || entry.expiresAt <= now()) {
        entry = { key: readKey(organizationId), expiresAt: now() + ttlMs };
        keys.set(organizationId, entry);
        const mine = entry;
        mine.key.catch(() => keys.get(organizationId) === mine && keys.delete(organizationId));
      }
      const key = await entry.key;
      if (key === null) return null;
      let client = clients.get(key);
      if (!client) {
        client = createStripeClient({ ...options, apiKey: key });
        clients.set(key, client);
      }
      return client;
    },
  };
}
