import { readBillingSettings, updateBillingSettings } from '../../services/billing-settings-store';
import { BillingSettingsPatchSchema, BillingSettingsSchema } from '../../services/schemas/billing-settings';
import { AlertSettingsPatchSchema, alertSettingsPatchSchema, AlertSettingsSchema } from '../../services/schemas/alert-settings';
import { readAlertSettings, updateAlertSettings } from '../../services/alert-settings-store';
import {
  listProxyUpstreams,
  ProxyUpstreamListSchema,
  ProxyUpstreamParamsSchema,
  ProxyUpstreamPutSchema,
  proxyUpstreamSchema,
  ProxyUpstreamSchema,
  putProxyUpstream,
} from '../../services/proxy-upstreams';
import { route, type RouteTable } from '../route-table';
import { apiKeyActor } from './catalog-common';

/**
 * The caller's organization's settings. The billing workflows read the
 * billing settings when they need them (see README "Billing settings"), so
 * a change applies from then on without restarting anything; the worker
 * picks up alert routes and channel secrets within a minute.
 */
export const settingsRoutes: RouteTable = {
  mount: '/settings',
  routes: [
    route({
      method: 'get',
      path: '/billing',
      summary: "Your organization's billing settings",
      description:
        'Proration mode, late-event grace, approval reminders and auto-approval, the payment retry schedule, and where finance is alerted. Defaults: day, 3600, 24, null, [1, 3, 5, 7], null, null.',
      ok: { description: 'The settings', schema: BillingSettingsSchema },
      handle: (deps, { caller }) => readBillingSettings(deps.prisma, caller.organizationId),
    }),
    route({
      method: 'patch',
      path: '/billing',
      summary: "Change some of your organization's billing settings",
      description:
        'Send any subset; the others keep their values, null clears a nullable one, an unknown field is a 400 naming it. A change is recorded in the audit log (organization.billing_settings_updated, with the changed fields before and after) and applies to what the billing workflows do next: proration, reminders, auto-approval and retries from the next period close; the late-event grace from the next period a subscription starts; finance contacts within a minute.',
      body: BillingSettingsPatchSchema,
      ok: { description: 'All the settings, as now stored', schema: BillingSettingsSchema },
      handle: (deps, { caller, body }) => updateBillingSettings(deps.prisma, caller.organizationId, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '/alerts',
      summary: 'Where your alerts go, and which channel secrets are stored',
      description: 'Secrets are never returned: `secrets` says whether each is stored and its last four characters.',
      ok: { description: 'The settings', schema: AlertSettingsSchema },
      handle: (deps, { caller }) => readAlertSettings(deps.prisma, caller.organizationId),
    }),
    route({
      method: 'patch',
      path: '/alerts',
      summary: 'Change alert routes and channel secrets',
      description:
        "Send any subset; null clears. Secrets (smtp_password, slack_bot_token, crm_webhook_secret, stripe_secret_key, stripe_webhook_secret) are stored encrypted with the deployment's LEDGERFLOW_SECRET_KEY and cannot be read back. The audit row (organization.alert_settings_updated) records plain fields before and after, and for a secret only set, replaced or removed. The worker uses a change within a minute.",
      body: AlertSettingsPatchSchema,
      bodyFor: (config) => alertSettingsPatchSchema(config.outbound),
      ok: { description: 'All the settings, as now stored', schema: AlertSettingsSchema },
      handle: (deps, { caller, body }) => updateAlertSettings(deps.prisma, caller.organizationId, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '/proxy-upstreams',
      summary: 'Where the AI proxy forwards your calls, per vendor protocol',
      description: 'The vendor keys are never returned: `api_key` says it is set and its last four characters.',
      ok: { description: 'The upstreams, by vendor', schema: ProxyUpstreamListSchema },
      handle: (deps, { caller }) => listProxyUpstreams(deps.prisma, caller.organizationId),
    }),
    route({
      method: 'put',
      path: '/proxy-upstreams/{vendor}',
      summary: 'Set where the AI proxy forwards calls of one vendor protocol',
      description:
        "The proxy (README \"AI proxy\") forwards OpenAI-compatible calls (chat completions, embeddings) to the openai upstream and Anthropic-compatible ones (messages) to the anthropic upstream, with this API key (stored encrypted with the deployment's LEDGERFLOW_SECRET_KEY, never returned), and meters each call as one event of event_type. Replaces what was set; the audit row (proxy_upstream.created or .updated) records the URL and event type, and for the key only that it was set or replaced. The proxy uses a change within a minute.",
      params: ProxyUpstreamParamsSchema,
      body: ProxyUpstreamPutSchema,
      bodyFor: (config) => proxyUpstreamSchema(config.outbound),
      ok: { description: 'The upstream, as now stored', schema: ProxyUpstreamSchema },
      handle: (deps, { caller, params, body }) => putProxyUpstream(deps.prisma, caller.organizationId, params.vendor, body, apiKeyActor(caller)),
    }),
  ],
};
