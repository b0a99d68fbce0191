import type { AppLoadContext } from 'react-router';
import { listProxyUpstreams, PROXY_VENDORS, proxyUpstreamSchema, putProxyUpstream, type ProxyUpstreamJson, type ProxyVendor } from '../../../services/proxy-upstreams';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, refusal } from './forms.server';

/** The AI proxy page's read and form, through the same service and rules as the API's /settings/proxy-upstreams. */

export type ProxyUpstreamOutcome = { ok: true; message: string } | { ok: false; message: string; field?: string };

const FIELD_LABELS: Record<string, string> = { base_url: 'Base URL', api_key: 'Vendor API key', event_type: 'Event type' };

export const VENDOR_NAMES: Record<ProxyVendor, string> = { openai: 'OpenAI-compatible', anthropic: 'Anthropic-compatible' };

export async function readProxyUpstreams(context: AppLoadContext, organizationId: string): Promise<ProxyUpstreamJson[]> {
  return (await listProxyUpstreams(context.prisma, organizationId)).data;
}

export async function applyProxyUpstreamForm(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<ProxyUpstreamOutcome> {
  const vendor = formText(form, 'vendor');
  if (!(PROXY_VENDORS as readonly string[]).includes(vendor)) return { ok: false, message: `Unknown vendor protocol "${vendor}".`, field: 'vendor' };
  const eventType = formText(form, 'event_type');
  const parsed = proxyUpstreamSchema(context.outbound).safeParse({
    base_url: formText(form, 'base_url'),
    api_key: formText(form, 'api_key'),
    ...(eventType ? { event_type: eventType } : {}),
  });
  if (!parsed.success) return formProblem(parsed.error, FIELD_LABELS);
  try {
    const saved = await putProxyUpstream(context.prisma, user.organizationId, vendor as ProxyVendor, parsed.data, { type: 'user', id: user.email });
    return {
      ok: true,
      message: `The proxy forwards ${VENDOR_NAMES[saved.vendor]} calls to ${saved.base_url} with the key ending ${saved.api_key.last4 ?? '…'}, each metered as ${saved.event_type}, within a minute.`,
    };
  } catch (err) {
    return refusal(err);
  }
}
