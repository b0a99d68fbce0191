import { createHmac, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { z } from 'zod';
import 'zod-openapi';
import { STRICT_OUTBOUND, type OutboundPolicy } from '../billing/outbound-urls';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { PrismaClient } from '../prisma/client';
import { secretBox, secretKeyFromEnv, SecretOpenError, type SecretBox } from '../prisma/secret-box';
import { DomainError } from './errors';
import { outboundHttpUrl } from './schemas/alert-settings';

/*
 * Where the AI proxy (proxy/) forwards an organization's calls: one upstream per vendor protocol, its base URL
 * (an organization's URL, so under the same outbound rules as its webhooks: https to a public address unless
 * OUTBOUND_DEVELOPMENT=1), its vendor key sealed at rest and never returned, and the event type each call is
 * metered as. Set through PUT /api/v1/settings/proxy-upstreams/{vendor} (admin).
 */

export const PROXY_VENDORS = ['openai', 'anthropic'] as const;
export type ProxyVendor = (typeof PROXY_VENDORS)[number];

/** The idempotency keys of the proxy's events (proxy:<vendor>:<response id>): POST /api/v1/events refuses them from anyone else. */
export const PROXY_KEY_PREFIX = 'proxy:';

/**
 * What the proxy shows the API that an event post is its own (header x-ledgerflow-proxy-token on POST
 * /api/v1/proxy/events): derived from the deployment's LEDGERFLOW_SECRET_KEY, which both processes hold, so a
 * caller's proxy key alone cannot post usage.
 */
export function proxyServiceToken(key: Buffer = secretKeyFromEnv()): string {
  return createHmac('sha256', key).update('ledgerflow proxy events v1').digest('base64url');
}

/** What a call is metered as when the organization names nothing else. */
export const DEFAULT_PROXY_EVENT_TYPE = 'llm.completion';

export const ProxyUpstreamParamsSchema = z.object({
  vendor: z.enum(PROXY_VENDORS).meta({ description: 'The protocol the upstream speaks: openai (chat completions, embeddings) or anthropic (messages)' }),
});

const eventType = z
  .string()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(/^[A-Za-z0-9_.:-]+$/, 'must be letters, digits, _ . : or -')
  .meta({ description: 'The event type each call is metered as (its quantity: the call\'s tokens; its vendor_usage: the tokens by kind)', example: 'llm.completion' });

export function proxyUpstreamSchema(policy: OutboundPolicy) {
  return z.strictObject({
    base_url: outboundHttpUrl(policy, 'The vendor API base the proxy forwards to, up to and including its version path', 'https://api.openai.com/v1'),
    api_key: z
      .string()
      .min(1, 'must not be empty')
      .max(500, 'must be at most 500 characters')
      .regex(/^[\x21-\x7E]+$/, 'must be a key like "sk-…": printable characters, no spaces')
      .meta({ description: 'The vendor API key the proxy sends upstream; stored encrypted, never returned', example: 'sk-proj-…' }),
    event_type: eventType.default(DEFAULT_PROXY_EVENT_TYPE),
  });
}

export const ProxyUpstreamPutSchema = proxyUpstreamSchema(STRICT_OUTBOUND).meta({ id: 'ProxyUpstreamPut' });
export type ProxyUpstreamPut = z.output<typeof ProxyUpstreamPutSchema>;

export const ProxyUpstreamSchema = z
  .object({
    vendor: z.enum(PROXY_VENDORS),
    base_url: z.string(),
    event_type: z.string(),
    api_key: z.object({ set: z.boolean(), last4: z.string().nullable().meta({ description: 'null when it no longer opens (the deployment key changed): set it again' }) }),
    updated_at: z.string(),
  })
  .meta({ id: 'ProxyUpstream' });
export type ProxyUpstreamJson = z.output<typeof ProxyUpstreamSchema>;
export const ProxyUpstreamListSchema = z.object({ data: z.array(ProxyUpstreamSchema) }).meta({ id: 'ProxyUpstreamList' });

const place = (organizationId: string, vendor: ProxyVendor) => `proxy_upstreams.api_key_enc:${organizationId}:${vendor}`;

interface Row {
  vendor: string;
  baseUrl: string;
  apiKeyEnc: string;
  eventType: string;
  updatedAt: Date;
}

function json(organizationId: string, row: Row): ProxyUpstreamJson {
  const vendor = row.vendor as ProxyVendor;
  let last4: string | null = null;
  try {
    last4 = secretBox.open(row.apiKeyEnc, place(organizationId, vendor)).slice(-4);
  } catch (err) {
    if (!(err instanceof SecretOpenError)) throw err;
  }
  return { vendor, base_url: row.baseUrl, event_type: row.eventType, api_key: { set: true, last4 }, updated_at: row.updatedAt.toISOString() };
}

export async function listProxyUpstreams(prisma: PrismaClient, organizationId: string): Promise<{ data: ProxyUpstreamJson[] }> {
  const rows = await prisma.proxyUpstream.findMany({ where: { organizationId }, orderBy: { vendor: 'asc' } });
  return { data: rows.map((r) => json(organizationId, r)) };
}

/** Sets (or replaces) the organization's upstream for a vendor; audited without the key. */
export async function putProxyUpstream(prisma: PrismaClient, organizationId: string, vendor: ProxyVendor, body: ProxyUpstreamPut, actor: AuditActor): Promise<ProxyUpstreamJson> {
  return prisma.$transaction(async (tx) => {
    const before = await tx.proxyUpstream.findUnique({ where: { organizationId_vendor: { organizationId, vendor } } });
    const data = { baseUrl: body.base_url, eventType: body.event_type, apiKeyEnc: secretBox.seal(body.api_key, place(organizationId, vendor)) };
    const row = await tx.proxyUpstream.upsert({
      where: { organizationId_vendor: { organizationId, vendor } },
      create: { id: randomUUID(), organizationId, vendor, ...data },
      update: data,
    });
    const plain = (r: Row) => ({ vendor: r.vendor, base_url: r.baseUrl, event_type: r.eventType });
    await writeAudit(tx, {
      organizationId,
      actor,
      action: before ? 'proxy_upstream.updated' : 'proxy_upstream.created',
      entityType: 'proxy_upstream',
      entityId: row.id,
      ...(before ? { before: plain(before) } : {}),
      after: { ...plain(row), api_key: before ? 'replaced' : 'set' },
    });
    return json(organizationId, row);
  });
}

/** An upstream as the proxy uses it: the key opened. */
export interface ProxyUpstreamTarget {
  baseUrl: string;
  apiKey: string;
  eventType: string;
}

/**
 * The organization's upstream for `vendor`, or a 409 DomainError saying how to set one. Throws the
 * secret box's errors when the key does not open (the proxy answers those as its own failure).
 */
export async function readProxyUpstream(pool: Pool, organizationId: string, vendor: ProxyVendor, box: SecretBox = secretBox): Promise<ProxyUpstreamTarget> {
  const { rows } = await pool.query<{ base_url: string; api_key_enc: string; event_type: string }>({
    name: 'proxy-upstream',
    text: 'SELECT base_url, api_key_enc, event_type FROM proxy_upstreams WHERE organization_id = $1 AND vendor = $2',
    values: [organizationId, vendor],
  });
  const row = rows[0];
  if (!row) throw new DomainError('conflict', 'PROXY_UPSTREAM_MISSING', `no ${vendor} upstream is configured for this organization: an admin sets one with PUT /api/v1/settings/proxy-upstreams/${vendor}`);
  return { baseUrl: row.base_url, apiKey: box.open(row.api_key_enc, place(organizationId, vendor)), eventType: row.event_type };
}
