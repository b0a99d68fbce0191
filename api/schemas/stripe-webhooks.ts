import { z } from 'zod';
import 'zod-openapi';

/*
 * For the OpenAPI document only: the route verifies the signature on the raw
 * bytes and lets Stripe's library parse them, so nothing here re-validates
 * what Stripe signed.
 */

export const StripeEventSchema = z
  .looseObject({
    id: z.string().meta({ description: 'Stripe event id; each is processed once', example: 'evt_1PqR2s3T4u5V6w7X' }),
    object: z.literal('event'),
    type: z.string().meta({ description: 'invoice.paid, invoice.payment_succeeded and invoice.payment_failed signal the billing run; every type is stored', example: 'invoice.paid' }),
    created: z.number().int().meta({ description: 'Unix seconds' }),
    data: z.looseObject({
      object: z.looseObject({}).meta({
        description: 'The Stripe object; metadata.ledgerflow_invoice_id and metadata.ledgerflow_organization_id tie it to Ledgerflow',
      }),
    }),
  })
  .meta({ id: 'StripeEvent', description: 'A Stripe event as Stripe sends it, signed in the Stripe-Signature header' });

export const StripeSignatureHeaderSchema = z.object({
  'stripe-signature': z.string().meta({ description: 'Stripe\'s signature of the raw body with the endpoint\'s signing secret', example: 't=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd' }),
});

export const StripeWebhookResponseSchema = z
  .object({
    received: z.literal(true),
    duplicate: z.boolean().meta({ description: 'true when this event id was already processed; nothing was done again' }),
  })
  .meta({ id: 'StripeWebhookResponse' });
