import { Router } from 'express';
import { tokenCost, toPlainString } from '../../billing/token-cost';
import { dec } from '../../billing/decimal';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { RatingRequestSchema } from '../schemas/other';
import { parseOrThrow } from '../validation';

export function ratingRouter(deps: ApiDeps): Router {
  const router = Router();
  router.post('/calculate', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(RatingRequestSchema, req.body, 'request');
    const now = new Date();
    // effective_from ≤ now < effective_to; the latest start wins (same rule as billing/token-cost rateInEffect).
    const rate = await deps.prisma.vendorRate.findFirst({
      where: {
        organizationId: caller.organizationId,
        vendor: body.vendor,
        model: body.model,
        effectiveFrom: { lte: now },
        OR: [{ effectiveTo: null }, { effectiveTo: { gt: now } }],
      },
      orderBy: { effectiveFrom: 'desc' },
    });
    if (!rate) {
      throw new ApiError(404, 'RATE_NOT_FOUND', `No rate in effect for ${body.vendor}/${body.model}`, { vendor: body.vendor, model: body.model });
    }
    const prices = { inputPerMillionTokens: rate.inputPerMillionTokens.toString(), outputPerMillionTokens: rate.outputPerMillionTokens.toString() };
    res.json({
      vendor: body.vendor,
      model: body.model,
      input_tokens: body.input_tokens,
      output_tokens: body.output_tokens,
      cost: toPlainString(tokenCost(prices, body.input_tokens, body.output_tokens)),
      currency: rate.currency,
      rate: {
        id: rate.id,
        input_per_million_tokens: toPlainString(dec(prices.inputPerMillionTokens)),
        output_per_million_tokens: toPlainString(dec(prices.outputPerMillionTokens)),
        effective_from: rate.effectiveFrom.toISOString(),
        effective_to: rate.effectiveTo?.toISOString() ?? null,
      },
    });
  });
  return router;
}
