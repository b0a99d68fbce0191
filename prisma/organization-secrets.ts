import { secretBox, type SecretBox } from './secret-box';

/*
 * The secrets an organization stores, each in its own sealed column
 * (prisma/secret-box.ts), bound to that column and the organization's row.
 */

export const ORGANIZATION_SECRETS = {
  slack_bot_token: { field: 'slackBotTokenEnc', column: 'slack_bot_token_enc' },
  smtp_password: { field: 'smtpPasswordEnc', column: 'smtp_password_enc' },
  crm_webhook_secret: { field: 'crmWebhookSecretEnc', column: 'crm_webhook_secret_enc' },
  stripe_secret_key: { field: 'stripeSecretKeyEnc', column: 'stripe_secret_key_enc' },
  stripe_webhook_secret: { field: 'stripeWebhookSecretEnc', column: 'stripe_webhook_secret_enc' },
} as const;

export type OrganizationSecret = keyof typeof ORGANIZATION_SECRETS;
export type SecretField = (typeof ORGANIZATION_SECRETS)[OrganizationSecret]['field'];
export const SECRET_NAMES = Object.keys(ORGANIZATION_SECRETS) as OrganizationSecret[];

const place = (name: OrganizationSecret, organizationId: string) => `organizations.${ORGANIZATION_SECRETS[name].column}:${organizationId}`;

export function sealOrganizationSecret(name: OrganizationSecret, organizationId: string, value: string, box: SecretBox = secretBox): string {
  return box.seal(value, place(name, organizationId));
}

/** The plaintext, or null when none is stored. Throws SecretOpenError / SecretKeyError when it cannot be opened. */
export function openOrganizationSecret(name: OrganizationSecret, organizationId: string, stored: string | null, box: SecretBox = secretBox): string | null {
  return stored === null ? null : box.open(stored, place(name, organizationId));
}
