import { formatMoney, roundMoney, stripeExponent, toStripeAmount } from '../../billing/currency';
import { dec, toPlainString, type Dec } from '../../billing/decimal';
import { InvalidPriceError, priceQuantity } from '../../billing/price-models';
import { InvalidProrationError, prorate } from '../../billing/proration';
import { ApiError } from '../errors';
import { route, type RouteTable } from '../route-table';
import { PriceQuoteRequestSchema, PriceQuoteResponseSchema, ProrationQuoteRequestSchema, ProrationQuoteResponseSchema } from '../schemas/quotes';
import type { FieldProblem } from '../validation';

/** billing/ names fields as `price.tiers[1].up_to`; the API's convention (zod paths) is `price.tiers.1.up_to`. */
const apiFieldName = (field: string): string => field.replace(/\[(\d+)\]/g, '.$1');

/** The same 400 body parseOrThrow gives, for a rule billing/ enforces after the shape is valid. */
function invalid(field: string, message: string): ApiError {
  const problem: FieldProblem = { code: 'INVALID_VALUE', field, message: `${field}: ${message}` };
  return new ApiError(400, 'VALIDATION_ERROR', `Invalid request: ${problem.message}`, { field, issues: [problem] });
}

/** Runs a billing rule; its named-field errors become 400s, anything else stays a 500. */
function orInvalid<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof InvalidPriceError || err instanceof InvalidProrationError) throw invalid(apiFieldName(err.field), err.message);
    throw err;
  }
}

/** Stripe takes integer minor units; an amount past 2^53 cannot be sent, so it is the caller's input that is out of range. */
function amountMinor(amount: Dec, currency: string): number {
  if (roundMoney(amount, currency).abs().times(dec(10).pow(stripeExponent(currency))).gt(Number.MAX_SAFE_INTEGER)) {
    throw invalid('quantity', 'the quoted amount is too large to express in integer minor units');
  }
  return toStripeAmount(amount, currency);
}

/** Stateless "what will this cost" answers on the same money rules the invoices use. */
export const quoteRoutes: RouteTable = {
  mount: '/quotes',
  routes: [
    route({
      method: 'post',
      path: '/price',
      summary: 'What a quantity costs under a price model, with its tier breakdown',
      description: 'Stateless. Each tier is rounded on its own (half away from zero, to the currency\'s minor unit) and amount is their sum.',
      body: PriceQuoteRequestSchema,
      ok: { description: 'The amount and its tier breakdown', schema: PriceQuoteResponseSchema },
      handle: (_deps, { body }) => {
        const priced = orInvalid(() => priceQuantity(body.price, body.quantity, body.currency));
        return {
          currency: body.currency,
          quantity: toPlainString(body.quantity),
          amount: formatMoney(priced.amount, body.currency),
          amount_minor: amountMinor(priced.amount, body.currency),
          tiers: priced.tiers.map((t) => ({
            from: toPlainString(t.from),
            to: t.to === null ? null : toPlainString(t.to),
            quantity: toPlainString(t.quantity),
            unit_amount: toPlainString(t.unitAmount),
            flat_amount: toPlainString(t.flatAmount),
            amount: formatMoney(t.amount, body.currency),
          })),
        };
      },
    }),
    route({
      method: 'post',
      path: '/proration',
      summary: 'What a mid-period plan change credits and charges',
      description:
        'Stateless. fraction = time from change_at (inclusive) to period_end (exclusive) ÷ the period; the credit for the old fee and the charge for the new one are each rounded on their own.',
      body: ProrationQuoteRequestSchema,
      ok: { description: 'days_* in day mode, seconds_* in second mode', schema: ProrationQuoteResponseSchema },
      handle: (_deps, { body }) => {
        const result = orInvalid(() =>
          prorate({
            periodStart: body.period_start,
            periodEnd: body.period_end,
            changeAt: body.change_at,
            fromAmount: body.from_amount,
            toAmount: body.to_amount,
            currency: body.currency,
            mode: body.mode,
          }),
        );
        const amounts = {
          credit: formatMoney(result.credit, body.currency),
          charge: formatMoney(result.charge, body.currency),
          net: formatMoney(result.net, body.currency),
        };
        return body.mode === 'day'
          ? { ...amounts, days_remaining: result.remaining, days_in_period: result.total }
          : { ...amounts, seconds_remaining: result.remaining, seconds_in_period: result.total };
      },
    }),
  ],
};
