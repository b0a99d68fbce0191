import { z } from 'zod';
import 'zod-openapi';
import { emailAddress } from './email';
import { DEVELOPMENT_HINT, STRICT_OUTBOUND, urlRefusal, type OutboundPolicy } from '../../billing/outbound-urls';

/*
 * Where an organization's alerts go and the secrets its channels use. The
 * secrets are write-only: PATCH takes the value, GET only says whether one
 * is stored and how it ends. Together with finance_email and
 * finance_slack_channel (billing settings) these decide every alert's route.
 */

const MAX_RECIPIENTS = 20;

const secret = (description: string, pattern: RegExp, shape: string, example: string) =>
  z.string().max(500, 'must be at most 500 characters').regex(pattern, `must look like ${shape}`).nullable().meta({ description: `${description} Write-only; null removes it.`, example });

/*
 * Outbound URLs an organization sets are where the worker connects: https
 * (or SMTP with TLS) to a public address only, unless the deployment allows
 * development targets (billing/outbound-urls.ts). Refused here, with the
 * field named, and checked again with the resolved address when sending.
 */
const parsedUrl = (u: string): URL | null => {
  try {
    return new URL(u);
  } catch {
    return null;
  }
};

const outboundRule = (kind: 'http' | 'smtp', policy: OutboundPolicy) => (url: string | null, ctx: z.RefinementCtx) => {
  const refusal = url === null || parsedUrl(url) === null ? null : urlRefusal(url, kind, policy);
  if (refusal) ctx.addIssue({ code: 'custom', message: refusal });
};

/** An https URL (http too on a development deployment) the worker may POST to, refused with the reason otherwise. */
export const outboundHttpUrl = (policy: OutboundPolicy, description: string, example: string) =>
  z
    .url(
      policy.allowDevelopmentTargets
        ? { protocol: /^https?$/, error: 'must be an http(s) URL' }
        : { protocol: /^https$/, error: `must be an https URL (plain http: ${DEVELOPMENT_HINT})` },
    )
    .max(2000, 'must be at most 2000 characters')
    .superRefine(outboundRule('http', policy))
    .meta({
      description: `${description}. https to a public address (not loopback, private or link-local).`,
      example,
      ...(policy.allowDevelopmentTargets ? {} : { pattern: '^https://' }),
    });

const httpUrl = (policy: OutboundPolicy, description: string, example: string) => outboundHttpUrl(policy, description, example).nullable();

const smtpUrl = (policy: OutboundPolicy) =>
  z
    .url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL like smtps://alerts@mail.example.com:465' })
    .max(2000, 'must be at most 2000 characters')
    // zod runs these after z.url() refused a value too: an unparseable URL is that check's to report.
    .refine((u) => (parsedUrl(u)?.password ?? '') === '', 'must not hold the password: send it as smtp_password, which is stored encrypted')
    .refine((u) => {
      const url = parsedUrl(u);
      return url === null || (url.search === '' && url.hash === '' && ['', '/'].includes(url.pathname));
    }, 'must be only scheme, user, host and port (no path, query string or fragment), like smtps://alerts@mail.example.com:465')
    .nullable()
    .superRefine(outboundRule('smtp', policy))
    .meta({
      description:
        "Your own SMTP server for alert emails (user in the URL, password in smtp_password); null = the deployment's SMTP_URL. smtps:// is TLS from the start, smtp:// must offer STARTTLS; the server must be on a public address.",
      example: 'smtps://alerts@mail.example.com:465',
      // scheme, optional user (no password), host, optional port, nothing after
      pattern: '^smtps?://([^:@/?#]+@)?[^:@/?#]+(:[0-9]+)?/?$',
    });

/** The PATCH body under a deployment's outbound policy (the document shows the production one). */
export function alertSettingsPatchSchema(policy: OutboundPolicy) {
  return z
    .strictObject({
      alert_email_recipients: z
        .array(emailAddress('ops@example.com'))
        .max(MAX_RECIPIENTS, `must list at most ${MAX_RECIPIENTS} addresses`)
        .meta({ description: 'Addresses that get every alert email, besides finance_email (billing settings)', example: ['ops@example.com', 'cfo@example.com'] }),
      alert_email_from: z
        .string()
        .min(3)
        .max(254)
        .regex(/@/, 'must be a sender address like "Ledgerflow <alerts@example.com>"')
        .nullable()
        .meta({ description: 'Sender of your alert emails; null = the deployment\'s ALERT_EMAIL_FROM', example: 'Billing alerts <alerts@example.com>' }),
      smtp_url: smtpUrl(policy),
      smtp_password: secret('Password of smtp_url\'s user.', /^[^\r\n]+$/, 'a single line', 'app-password'),
      slack_bot_token: secret('Your own Slack bot token (chat:write); unset = the deployment\'s SLACK_BOT_TOKEN.', /^xox[bp]-[A-Za-z0-9-]+$/, 'a Slack bot token like "xoxb-…"', 'xoxb-1234-5678-abcd'),
      crm_webhook_url: httpUrl(policy, 'Receives a CRM task per revenue-leak finding, signed with crm_webhook_secret; null = no CRM tasks', 'https://crm.example.com/hooks/ledgerflow'),
      crm_webhook_secret: secret('Key of the HMAC-SHA256 signature on CRM tasks (Ledgerflow-Signature: sha256=<hex>).', /^[^\r\n]{16,}$/, 'a single line of at least 16 characters', 'a-long-random-shared-secret'),
      stripe_secret_key: secret('Your Stripe secret or restricted key.', /^(sk|rk)_(test|live)_[A-Za-z0-9]+$/, 'a Stripe key like "sk_live_…" or "rk_live_…"', 'sk_test_abc123'),
      stripe_webhook_secret: secret(
        'Signing secret of a Stripe webhook endpoint pointed at POST /webhooks/stripe/<your organization id>.',
        /^whsec_[A-Za-z0-9+/=]+$/,
        'a Stripe signing secret like "whsec_…"',
        'whsec_abc123',
      ),
    })
    .partial();
}

export const AlertSettingsPatchSchema = alertSettingsPatchSchema(STRICT_OUTBOUND).meta({ id: 'AlertSettingsUpdate', description: 'The settings to change; fields not sent keep their values' });

export type AlertSettingsPatch = z.output<typeof AlertSettingsPatchSchema>;

const SecretStatusSchema = z
  .object({
    set: z.boolean(),
    last4: z.string().nullable().meta({ description: 'The last four characters, to recognise which value is stored; null when none is, or it no longer opens with LEDGERFLOW_SECRET_KEY' }),
  })
  .meta({ id: 'SecretStatus' });

export const AlertSettingsSchema = z
  .object({
    alert_email_recipients: z.array(z.string()),
    alert_email_from: z.string().nullable(),
    smtp_url: z.string().nullable(),
    crm_webhook_url: z.string().nullable(),
    secrets: z
      .object({
        smtp_password: SecretStatusSchema,
        slack_bot_token: SecretStatusSchema,
        crm_webhook_secret: SecretStatusSchema,
        stripe_secret_key: SecretStatusSchema,
        stripe_webhook_secret: SecretStatusSchema,
      })
      .meta({ description: 'Which secrets are stored (never their values)' }),
  })
  .meta({ id: 'AlertSettings', description: 'Your organization\'s alert routes and channel secrets' });

export type AlertSettings = z.output<typeof AlertSettingsSchema>;
