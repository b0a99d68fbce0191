import type { AppLoadContext } from 'react-router';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookDelivery,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  redeliverWebhook,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  webhookEndpointSchemas,
  type WebhookDeliveryDetailJson,
  type WebhookEndpointJson,
} from '../../../services/webhook-endpoints';
import { DomainError } from '../../../services/errors';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, refusal } from './forms.server';
import { isUuid } from '../../../services/ids';

/** The webhooks page's reads and forms, through the same service and rules as the API's /webhook-endpoints and /webhook-deliveries. */

export type WebhookOutcome = { ok: true; message: string; secret?: { url: string; value: string } } | { ok: false; message: string; field?: string };

const FIELD_LABELS: Record<string, string> = { url: 'URL', description: 'Description', event_types: 'Event types', enabled: 'Enabled' };

/** The log shows this many of the latest deliveries; older ones are listed through the API. */
const LOG_PAGE = 50;


export async function readWebhooks(context: AppLoadContext, organizationId: string, params: URLSearchParams) {
  const endpointFilter = params.get('endpoint');
  const endpointId = endpointFilter && isUuid(endpointFilter) ? endpointFilter : undefined;
  const [{ data: endpoints }, log, delivery, removing] = await Promise.all([
    listWebhookEndpoints(context.prisma, organizationId),
    listWebhookDeliveries(context.prisma, organizationId, { limit: LOG_PAGE, ...(endpointId ? { endpoint_id: endpointId } : {}) }),
    orNull(() => getWebhookDelivery(context.prisma, organizationId, params.get('delivery') ?? '')),
    orNull(() => getWebhookEndpoint(context.prisma, organizationId, params.get('remove') ?? '')),
  ]);
  return { endpoints, deliveries: log.data, moreDeliveries: log.has_more, endpointId: endpointId ?? null, delivery, removing };
}

/** What a `?delivery=` or `?remove=` names, when it is the organization's. */
async function orNull<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof DomainError) return null;
    throw err;
  }
}

export type { WebhookDeliveryDetailJson, WebhookEndpointJson };

export async function applyWebhookForm(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<WebhookOutcome> {
  const actor = { type: 'user', id: user.email } as const;
  const organizationId = user.organizationId;
  const id = formText(form, 'id');
  const schemas = webhookEndpointSchemas(context.outbound);
  try {
    switch (form.get('intent')) {
      case 'create': {
        const parsed = schemas.create.safeParse({ url: formText(form, 'url'), description: formText(form, 'description'), event_types: form.getAll('event_types').map(String) });
        if (!parsed.success) return formProblem(parsed.error, FIELD_LABELS);
        const created = await createWebhookEndpoint(context.prisma, organizationId, parsed.data, actor);
        return { ok: true, message: `Added ${created.url}. It receives ${created.event_types.length === 0 ? 'every event type' : created.event_types.join(', ')} from now on.`, secret: { url: created.url, value: created.secret } };
      }
      case 'enable':
      case 'disable': {
        const enabled = form.get('intent') === 'enable';
        const changed = await updateWebhookEndpoint(context.prisma, organizationId, id, { enabled }, actor);
        return { ok: true, message: enabled ? `${changed.url} receives events again.` : `${changed.url} is disabled: no new deliveries, and deliveries being retried stop at their next attempt.` };
      }
      case 'rotate': {
        const rotated = await rotateWebhookSecret(context.prisma, organizationId, id, actor);
        return { ok: true, message: `New signing secret for ${rotated.url}; the old one no longer signs.`, secret: { url: rotated.url, value: rotated.secret } };
      }
      case 'remove': {
        const removed = await deleteWebhookEndpoint(context.prisma, organizationId, id, actor);
        return { ok: true, message: `Removed ${removed.url} and its delivery log.` };
      }
      case 'redeliver': {
        const delivery = await redeliverWebhook(context.prisma, organizationId, id, actor);
        return { ok: true, message: `Sending ${delivery.event_type} to ${delivery.endpoint_url} again (round ${delivery.round}); refresh the log to see the attempt.` };
      }
      default:
        return { ok: false, message: 'Unknown action' };
    }
  } catch (err) {
    return refusal(err);
  }
}
