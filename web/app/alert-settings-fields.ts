// Shared by the alert channels page and its server module (no server-only imports here).

export type AlertField =
  | 'alert_email_recipients'
  | 'alert_email_from'
  | 'smtp_url'
  | 'smtp_password'
  | 'slack_bot_token'
  | 'crm_webhook_url'
  | 'crm_webhook_secret'
  | 'stripe_secret_key'
  | 'stripe_webhook_secret';

export type AlertSecret = Extract<AlertField, 'smtp_password' | 'slack_bot_token' | 'crm_webhook_secret' | 'stripe_secret_key' | 'stripe_webhook_secret'>;

/** The write-only fields, in the order the page shows them, with their labels. */
export const ALERT_SECRETS: { name: AlertSecret; label: string }[] = [
  { name: 'smtp_password', label: 'SMTP password' },
  { name: 'slack_bot_token', label: 'Slack bot token' },
  { name: 'crm_webhook_secret', label: 'CRM webhook signing secret' },
  { name: 'stripe_secret_key', label: 'Stripe secret key' },
  { name: 'stripe_webhook_secret', label: 'Stripe webhook signing secret' },
];
