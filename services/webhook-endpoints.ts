import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import 'zod-openapi';
import { STRICT_OUTBOUND, type OutboundPolicy } from '../billing/outbound-urls';
import { WEBHOOK_EVENT_TYPE_NAMES, WEBHOOK_EVENT_TYPES, WEBHOOK_MAX_ATTEMPTS, webhookBody } from '../billing/webhooks';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { PrismaClient, WebhookEndpointModel } from '../prisma/client';
import { secretBox } from '../prisma/secret-box';
import { endpointSecretPlace, WEBHOOK_CHANNEL } from '../prisma/webhook-events';
import { DomainError } from './errors';
import { outboundHttpUrl } from './schemas/alert-settings';
import { isUuid } from './ids';

/*
 * An organization's outbound webhook endpoints and their delivery log. The
 * API (api/routes/webhook-endpoints.ts) and the web app's webhooks page call
 * these; every change writes an audit row in its transaction. Events are
 * emitted by the changes they report (prisma/webhook-events.ts) and
 * delivered by workflows/webhook-delivery.ts.
 */

/** Enough for an organization's systems; each endpoint gets every event it subscribes to. */
export const MAX_WEBHOOK_ENDPOINTS = 20;

const eventTypes = z
  .array(z.enum(WEBHOOK_EVENT_TYPE_NAMES))
  .max(WEBHOOK_EVENT_TYPE_NAMES.length)
  .refine((types) => new Set(types).size === types.length, 'must not name a type twice')
  .meta({ description: 'The event types it receives; empty = every type, including types added later', example: ['invoice.finalized', 'invoice.paid'] });
const description = z.string().max(200, 'must be at most 200 characters').meta({ description: 'What the endpoint is, for people', example: 'ERP invoice sync' });
const enabled = z.boolean().meta({ description: 'A disabled endpoint gets no new deliveries; deliveries already retrying stop at their next attempt' });

const urlField = (policy: OutboundPolicy) => outboundHttpUrl(policy, 'Where Ledgerflow POSTs the events, signed per Standard Webhooks', 'https://erp.example.com/hooks/ledgerflow');

/** The create and change bodies under a deployment's outbound policy (the document shows the production one). */
export function webhookEndpointSchemas(policy: OutboundPolicy) {
  return {
    create: z.strictObject({ url: urlField(policy), description: description.default(''), event_types: eventTypes.default([]), enabled: enabled.default(true) }),
    patch: z
      .strictObject({ url: urlField(policy).optional(), description: description.optional(), event_types: eventTypes.optional(), enabled: enabled.optional() })
      .refine((body) => Object.values(body).some((v) => v !== undefined), { message: 'name at least one field to change: url, description, event_types or enabled' })
      .meta({ minProperties: 1 }),
  };
}

const STRICT = webhookEndpointSchemas(STRICT_OUTBOUND);
export const WebhookEndpointCreateSchema = STRICT.create.meta({ id: 'WebhookEndpointCreate' });
export const WebhookEndpointPatchSchema = STRICT.patch.meta({ id: 'WebhookEndpointUpdate' });
export type WebhookEndpointCreate = z.output<typeof WebhookEndpointCreateSchema>;
export type WebhookEndpointPatch = z.output<typeof WebhookEndpointPatchSchema>;

export const WebhookEndpointParamsSchema = z.object({ id: z.string().meta({ description: 'The webhook endpoint id' }) });
export const WebhookDeliveryParamsSchema = z.object({ id: z.string().meta({ description: 'The delivery id' }) });

export const WebhookEndpointSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string(),
    event_types: z.array(z.string()).meta({ description: 'Empty: every type' }),
    enabled: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'WebhookEndpoint' });
export type WebhookEndpointJson = z.output<typeof WebhookEndpointSchema>;

export const WebhookEndpointWithSecretSchema = WebhookEndpointSchema.extend({
  secret: z.string().meta({ description: 'The signing secret (whsec_…): shown only here, when the endpoint is created or its secret rotated. Verify deliveries with any Standard Webhooks library.', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
}).meta({ id: 'WebhookEndpointWithSecret' });
export type WebhookEndpointWithSecretJson = z.output<typeof WebhookEndpointWithSecretSchema>;

export const WebhookEventTypesSchema = z
  .object({ data: z.array(z.object({ type: z.string(), description: z.string() })) })
  .meta({ id: 'WebhookEventTypes' });

export const WebhookDeliveryListQuerySchema = z.strictObject({
  endpoint_id: z.uuid().optional().meta({ description: 'Only deliveries to this endpoint' }),
  status: z.enum(['pending', 'succeeded', 'failed']).optional().meta({ description: 'Only deliveries in this state' }),
  limit: z.coerce.number().int().min(1).max(200).default(50).meta({ description: 'Page size' }),
  before: z.uuid().optional().meta({ description: 'Return deliveries older than this one (the last id of the previous page)' }),
});
export type WebhookDeliveryListQuery = z.output<typeof WebhookDeliveryListQuerySchema>;

const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;

export const WebhookDeliverySchema = z
  .object({
    id: z.uuid(),
    endpoint_id: z.uuid(),
    endpoint_url: z.string().meta({ description: 'The endpoint\'s URL now; each attempt records where it went' }),
    event_id: z.uuid().meta({ description: 'Sent as the webhook-id header: the same on every attempt and redelivery, so receivers can drop repeats' }),
    event_type: z.string(),
    status: z.enum(DELIVERY_STATUSES).meta({ description: `pending: being tried (up to ${WEBHOOK_MAX_ATTEMPTS} attempts over about 27 hours); succeeded: a 2xx came back; failed: every attempt failed` }),
    round: z.int().meta({ description: '1, plus one per redelivery' }),
    attempts: z.int().meta({ description: 'Attempts in this round' }),
    last_status_code: z.int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'WebhookDelivery' });
export type WebhookDeliveryJson = z.output<typeof WebhookDeliverySchema>;

export const WebhookDeliveryDetailSchema = WebhookDeliverySchema.extend({
  body: z.string().meta({ description: 'The exact bytes every attempt sends' }),
  attempts_log: z.array(
    z.object({
      round: z.int(),
      attempt: z.int(),
      attempted_at: z.string(),
      url: z.string().meta({ description: 'Where the attempt was sent: the endpoint\'s URL at the time (it may have changed since)' }),
      duration_ms: z.int(),
      status_code: z.int().nullable(),
      error: z.string().nullable(),
      succeeded: z.boolean(),
    }),
  ),
}).meta({ id: 'WebhookDeliveryDetail' });
export type WebhookDeliveryDetailJson = z.output<typeof WebhookDeliveryDetailSchema>;

export const WebhookDeliveryListSchema = z.object({ data: z.array(WebhookDeliverySchema), has_more: z.boolean() }).meta({ id: 'WebhookDeliveryList' });

export function webhookEndpointJson(e: WebhookEndpointModel): WebhookEndpointJson {
  return { id: e.id, url: e.url, description: e.description, event_types: e.eventTypes, enabled: e.enabled, created_at: e.createdAt.toISOString(), updated_at: e.updatedAt.toISOString() };
}

/** The audit row's view: what the endpoint is, never its secret. */
function settings(e: WebhookEndpointJson) {
  const { id: _id, created_at: _c, updated_at: _u, ...rest } = e;
  return rest;
}

const endpointNotFound = (id: string) => new DomainError('not_found', 'NOT_FOUND', `No webhook endpoint ${id}`);
const deliveryNotFound = (id: string) => new DomainError('not_found', 'NOT_FOUND', `No webhook delivery ${id}`);

/** 24 random bytes as a Standard Webhooks secret (`whsec_` and base64). */
function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/**
 * The endpoint, locked against another change (NO KEY: events being emitted
 * meanwhile only reference it, and are not held up).
 */
async function lockedEndpoint(tx: Tx, organizationId: string, id: string): Promise<WebhookEndpointModel> {
  if (!isUuid(id)) throw endpointNotFound(id);
  const [locked] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM webhook_endpoints WHERE id = ${id}::uuid AND organization_id = ${organizationId}::uuid FOR NO KEY UPDATE`;
  if (!locked) throw endpointNotFound(id);
  return tx.webhookEndpoint.findUniqueOrThrow({ where: { id } });
}

export function webhookEventTypes(): z.output<typeof WebhookEventTypesSchema> {
  return { data: WEBHOOK_EVENT_TYPE_NAMES.map((type) => ({ type, description: WEBHOOK_EVENT_TYPES[type] })) };
}

export async function listWebhookEndpoints(prisma: PrismaClient, organizationId: string): Promise<{ data: WebhookEndpointJson[] }> {
  const rows = await prisma.webhookEndpoint.findMany({ where: { organizationId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return { data: rows.map(webhookEndpointJson) };
}

export async function getWebhookEndpoint(prisma: PrismaClient, organizationId: string, id: string): Promise<WebhookEndpointJson> {
  const row = isUuid(id) ? await prisma.webhookEndpoint.findFirst({ where: { id, organizationId } }) : null;
  if (!row) throw endpointNotFound(id);
  return webhookEndpointJson(row);
}

export async function createWebhookEndpoint(prisma: PrismaClient, organizationId: string, input: WebhookEndpointCreate, actor: AuditActor): Promise<WebhookEndpointWithSecretJson> {
  return prisma.$transaction(async (tx) => {
    // One creation at a time per organization, so the cap holds under concurrent requests.
    await tx.$queryRaw`SELECT id FROM organizations WHERE id = ${organizationId}::uuid FOR UPDATE`;
    const count = await tx.webhookEndpoint.count({ where: { organizationId } });
    if (count >= MAX_WEBHOOK_ENDPOINTS) throw new DomainError('conflict', 'LIMIT_REACHED', `An organization has at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints; remove one first (an endpoint can receive several event types)`, 'url');
    const id = randomUUID();
    const secret = newSecret();
    const row = await tx.webhookEndpoint.create({
      data: { id, organizationId, url: input.url, description: input.description, eventTypes: input.event_types, enabled: input.enabled, secretEnc: secretBox.seal(secret, endpointSecretPlace(id)) },
    });
    const created = webhookEndpointJson(row);
    await writeAudit(tx, { organizationId, actor, action: 'webhook_endpoint.created', entityType: 'webhook_endpoint', entityId: id, after: settings(created) });
    return { ...created, secret };
  });
}

export async function updateWebhookEndpoint(prisma: PrismaClient, organizationId: string, id: string, patch: WebhookEndpointPatch, actor: AuditActor): Promise<WebhookEndpointJson> {
  return prisma.$transaction(async (tx) => {
    const before = webhookEndpointJson(await lockedEndpoint(tx, organizationId, id));
    const row = await tx.webhookEndpoint.update({
      where: { id },
      data: {
        ...(patch.url !== undefined && { url: patch.url }),
        ...(patch.description !== undefined && { description: patch.description }),
        ...(patch.event_types !== undefined && { eventTypes: patch.event_types }),
        ...(patch.enabled !== undefined && { enabled: patch.enabled }),
      },
    });
    const after = webhookEndpointJson(row);
    await writeAudit(tx, { organizationId, actor, action: 'webhook_endpoint.updated', entityType: 'webhook_endpoint', entityId: id, before: settings(before), after: settings(after) });
    return after;
  });
}

/** A new signing secret; the old one stops signing at once (receivers must take the new one before the next delivery). */
export async function rotateWebhookSecret(prisma: PrismaClient, organizationId: string, id: string, actor: AuditActor): Promise<WebhookEndpointWithSecretJson> {
  return prisma.$transaction(async (tx) => {
    await lockedEndpoint(tx, organizationId, id);
    const secret = newSecret();
    const row = await tx.webhookEndpoint.update({ where: { id }, data: { secretEnc: secretBox.seal(secret, endpointSecretPlace(id)) } });
    await writeAudit(tx, { organizationId, actor, action: 'webhook_endpoint.secret_rotated', entityType: 'webhook_endpoint', entityId: id, after: { url: row.url } });
    return { ...webhookEndpointJson(row), secret };
  });
}

/** Removes the endpoint with its delivery log; deliveries still retrying stop at their next attempt. */
export async function deleteWebhookEndpoint(prisma: PrismaClient, organizationId: string, id: string, actor: AuditActor): Promise<WebhookEndpointJson> {
  return prisma.$transaction(async (tx) => {
    const before = webhookEndpointJson(await lockedEndpoint(tx, organizationId, id));
    const deliveries = await tx.webhookDelivery.count({ where: { endpointId: id } });
    await tx.webhookEndpoint.delete({ where: { id } });
    await writeAudit(tx, { organizationId, actor, action: 'webhook_endpoint.deleted', entityType: 'webhook_endpoint', entityId: id, before: settings(before), after: { deliveriesRemoved: deliveries } });
    return before;
  });
}

const deliveryInclude = { endpoint: { select: { url: true } }, event: { select: { type: true, createdAt: true, payload: true } } } as const;
type DeliveryRow = Awaited<ReturnType<typeof readDelivery>>;
const readDelivery = (prisma: PrismaClient | Tx, organizationId: string, id: string) => prisma.webhookDelivery.findFirst({ where: { id, organizationId }, include: deliveryInclude });

function deliveryJson(d: NonNullable<DeliveryRow>): WebhookDeliveryJson {
  const iso = (t: Date | null) => t?.toISOString() ?? null;
  return {
    id: d.id,
    endpoint_id: d.endpointId,
    endpoint_url: d.endpoint.url,
    event_id: d.eventId,
    event_type: d.event.type,
    status: d.status as WebhookDeliveryJson['status'],
    round: d.round,
    attempts: d.attempts,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    next_attempt_at: iso(d.nextAttemptAt),
    delivered_at: iso(d.deliveredAt),
    created_at: d.createdAt.toISOString(),
  };
}

/** The delivery log, newest first. */
export async function listWebhookDeliveries(prisma: PrismaClient, organizationId: string, query: WebhookDeliveryListQuery): Promise<{ data: WebhookDeliveryJson[]; has_more: boolean }> {
  const before = query.before ? await prisma.webhookDelivery.findFirst({ where: { id: query.before, organizationId }, select: { createdAt: true, id: true } }) : null;
  if (query.before && !before) throw new DomainError('invalid', 'VALIDATION_ERROR', `before: no delivery ${query.before} in your organization`, 'before');
  const rows = await prisma.webhookDelivery.findMany({
    where: {
      organizationId,
      ...(query.endpoint_id ? { endpointId: query.endpoint_id } : {}),
      ...(query.status ? { status: query.status } : {}),
      ...(before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {}),
    },
    include: deliveryInclude,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: query.limit + 1,
  });
  return { data: rows.slice(0, query.limit).map(deliveryJson), has_more: rows.length > query.limit };
}

/** One delivery with every attempt, oldest first, and the body it sends. */
export async function getWebhookDelivery(prisma: PrismaClient, organizationId: string, id: string): Promise<WebhookDeliveryDetailJson> {
  const row = isUuid(id) ? await readDelivery(prisma, organizationId, id) : null;
  if (!row) throw deliveryNotFound(id);
  const attempts = await prisma.webhookDeliveryAttempt.findMany({ where: { deliveryId: id }, orderBy: [{ round: 'asc' }, { attempt: 'asc' }] });
  return {
    ...deliveryJson(row),
    body: webhookBody(row.event),
    attempts_log: attempts.map((a) => ({ round: a.round, attempt: a.attempt, attempted_at: a.attemptedAt.toISOString(), url: a.url, duration_ms: a.durationMs, status_code: a.statusCode, error: a.error, succeeded: a.succeeded })),
  };
}

/**
 * Sends a delivery again, as a new round of attempts with the same event id
 * and body. Only a delivery that has finished (succeeded or failed) can be:
 * a pending one is still being tried.
 */
export async function redeliverWebhook(prisma: PrismaClient, organizationId: string, id: string, actor: AuditActor): Promise<WebhookDeliveryJson> {
  return prisma.$transaction(async (tx) => {
    if (!isUuid(id)) throw deliveryNotFound(id);
    const [locked] = await tx.$queryRaw<{ status: string; round: number; enabled: boolean }[]>`
      SELECT d.status, d.round, w.enabled FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
       WHERE d.id = ${id}::uuid AND d.organization_id = ${organizationId}::uuid FOR NO KEY UPDATE OF d`;
    if (!locked) throw deliveryNotFound(id);
    if (locked.status === 'pending') throw new DomainError('conflict', 'DELIVERY_PENDING', `Delivery ${id} is still being tried (round ${locked.round}); redeliver it once it has succeeded or failed`);
    if (!locked.enabled) throw new DomainError('conflict', 'ENDPOINT_DISABLED', `Delivery ${id} goes to a disabled endpoint; enable the endpoint first`);
    await tx.webhookDelivery.update({
      where: { id },
      data: { status: 'pending', round: locked.round + 1, workflowStarted: false, attempts: 0, lastStatusCode: null, lastError: null, nextAttemptAt: null, deliveredAt: null },
    });
    await tx.$queryRaw`SELECT count(*)::int AS notified FROM (SELECT pg_notify(${WEBHOOK_CHANNEL}, ${organizationId})) n`;
    await writeAudit(tx, { organizationId, actor, action: 'webhook_delivery.redelivered', entityType: 'webhook_delivery', entityId: id, before: { status: locked.status, round: locked.round }, after: { status: 'pending', round: locked.round + 1 } });
    return deliveryJson((await readDelivery(tx, organizationId, id))!);
  });
}
