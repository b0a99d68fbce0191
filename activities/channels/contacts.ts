import type { PrismaClient } from '../../prisma/client';

/** Where an organization wants its finance alerts; null = use the channel's default. */
export interface OrganizationContacts {
  financeEmail: string | null;
  financeSlackChannel: string | null;
}

export type ContactLookup = (organizationId: string) => Promise<OrganizationContacts>;

/**
 * Reads the organization's alert settings, remembered for `ttlMs` so a
 * burst of notifications (and the channels of one notification, which ask
 * at the same moment) cost one query, while a changed setting still takes
 * effect within the TTL. An unknown organization gets the defaults; a failed
 * read is not remembered.
 */
export function createContactLookup(prisma: PrismaClient, ttlMs = 60_000, now: () => number = Date.now): ContactLookup {
  const cache = new Map<string, { contacts: Promise<OrganizationContacts>; expiresAt: number }>();
  const read = async (organizationId: string): Promise<OrganizationContacts> => {
    const org = await prisma.organization.findUnique({
      where: { id: organizationId },
      select: { financeEmail: true, financeSlackChannel: true },
    });
    return { financeEmail: org?.financeEmail ?? null, financeSlackChannel: org?.financeSlackChannel ?? null };
  };
  return (organizationId) => {
    const hit = cache.get(organizationId);
    if (hit && hit.expiresAt > now()) return hit.contacts;
    // Drop expired entries now and then, so a long-lived worker does not keep every organization forever.
    if (cache.size >= 1_000) for (const [id, entry] of cache) if (entry.expiresAt <= now()) cache.delete(id);
    const contacts = read(organizationId);
    const entry = { contacts, expiresAt: now() + ttlMs };
    cache.set(organizationId, entry);
    contacts.catch(() => {
      if (cache.get(organizationId) === entry) cache.delete(organizationId);
    });
    return contacts;
  };
}
