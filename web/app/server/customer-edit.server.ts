import type { AppLoadContext } from 'react-router';
import { CustomerUpdateSchema, updateCustomer } from '../../../services/customers';
import { TASK_QUEUE } from '../../../temporal/names';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, refusal } from './forms.server';

/** The customer page's form: name, billing email and Stripe link, through the same service and rules as PATCH /api/v1/customers/:external_id. */

export type CustomerEditOutcome = { ok: boolean; message: string; field?: string };

const LABELS: Record<string, string> = { name: 'Name', email: 'Billing email', stripe_customer_id: 'Stripe customer id' };

export async function applyCustomerForm(context: AppLoadContext, user: SignedInUser, customerId: string, form: FormData): Promise<CustomerEditOutcome> {
  if (form.get('intent') !== 'edit') return { ok: false, message: `Unknown action "${String(form.get('intent'))}".` };
  const customer = await context.prisma.customer.findFirst({ where: { id: customerId, organizationId: user.organizationId } });
  if (!customer) return { ok: false, message: 'No such customer in your organization.' };
  // An empty name or email clears it; an empty Stripe id leaves the link as it is (a link is replaced, not removed).
  const parsed = CustomerUpdateSchema.safeParse({
    name: formText(form, 'name') || null,
    email: formText(form, 'email') || null,
    ...(formText(form, 'stripe_customer_id') ? { stripe_customer_id: formText(form, 'stripe_customer_id') } : {}),
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
