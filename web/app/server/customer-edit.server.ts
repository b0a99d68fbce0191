import type { AppLoadContext } from 'react-router';
import { CustomerUpdateSchema, updateCustomer } from '../../../services/customers';
import { PaymentSetupRequestSchema, startPaymentSetup } from '../../../services/payment-setup';
import { TASK_QUEUE } from '../../../temporal/names';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, refusal } from './forms.server';

/** The customer page's form: name, billing email and Stripe link, through the same service and rules as PATCH /api/v1/customers/:external_id. */

export type CustomerEditOutcome = { ok: boolean; message: string; field?: string; cardSetup?: true; setupLink?: { url: string; expiresAt: string }; pendingKey?: string };

const LABELS: Record<string, string> = {
  name: 'Name',
  email: 'Billing email',
  stripe_customer_id: 'Stripe customer id',
  parent_external_id: 'Draws credits from (team pool)',
  success_url: 'Send the customer back to',
};

export async function applyCustomerForm(context: AppLoadContext, user: SignedInUser, customerId: string, form: FormData): Promise<CustomerEditOutcome> {
  const intent = form.get('intent');
  if (intent !== 'edit' && intent !== 'card-setup') return { ok: false, message: `Unknown action "${String(intent)}".` };
  const customer = await context.prisma.customer.findFirst({ where: { id: customerId, organizationId: user.organizationId } });
  if (!customer) return { ok: false, message: 'No such customer in your organization.' };
  if (intent === 'card-setup') return { ...(await openCardSetup(context, user, customer.externalId, form)), cardSetup: true };
  // An empty name, email or pool parent clears it; an empty Stripe id leaves the link as it is (a link is replaced, not removed).
  const parsed = CustomerUpdateSchema.safeParse({
    name: formText(form, 'name') || null,
    email: formText(form, 'email') || null,
    ...(formText(form, 'stripe_customer_id') ? { stripe_customer_id: formText(form, 'stripe_customer_id') } : {}),
    ...(form.has('parent_external_id') ? { parent_external_id: formText(form, 'parent_external_id') || null } : {}),
  });
  if (!parsed.success) return formProblem(parsed.error, LABELS);
  try {
    const outcome = await updateCustomer({ prisma: context.prisma, temporal: context.temporal, taskQueue: TASK_QUEUE }, user.organizationId, customer.externalId, parsed.data, { type: 'user', id: user.email });
    const link =
      outcome.stripeLink === 'linked'
        ? ` Linked to Stripe customer ${outcome.customer.stripeCustomerId}.`
        : outcome.stripeLink === 'pending'
          ? ' Stripe is still being asked about the link; reload in a moment.'
          : '';
    return { ok: true, message: `Saved ${outcome.customer.externalId}.${link}` };
  } catch (err) {
    return refusal(err);
  }
}

/**
 * A Stripe Checkout page where the customer saves a card, through the same
 * service as POST /api/v1/customers/:external_id/payment-setup. Stripe sends
 * the customer back to a page of the organization's own (this app is for
 * its staff), whether or not they saved a card.
 */
async function openCardSetup(context: AppLoadContext, user: SignedInUser, externalId: string, form: FormData): Promise<CustomerEditOutcome> {
  const back = formText(form, 'return_url');
  // The form's key: sent again after "still opening", the same page comes back instead of a second one.
  const requestKey = formText(form, 'request_key') || undefined;
  const parsed = PaymentSetupRequestSchema.safeParse({ success_url: back, cancel_url: back, ...(requestKey ? { request_key: requestKey } : {}) });
  if (!parsed.success) return formProblem(parsed.error, LABELS);
  try {
    const outcome = await startPaymentSetup(
      { prisma: context.prisma, temporal: context.temporal, taskQueue: TASK_QUEUE },
      user.organizationId,
      externalId,
      parsed.data,
      { type: 'user', id: user.email },
    );
    if (outcome.kind === 'pending') {
      return { ok: true, message: `Stripe is still opening the page (${outcome.workflowId}); press the button again in a moment for its link.`, ...(requestKey ? { pendingKey: requestKey } : {}) };
    }
    return {
      ok: true,
      message: `Card setup page opened for ${externalId}. Send the customer this link; it works until ${outcome.session.expiresAt.replace('T', ' ').slice(0, 16)} UTC.`,
      setupLink: { url: outcome.session.url, expiresAt: outcome.session.expiresAt },
    };
  } catch (err) {
    return refusal(err);
  }
}
