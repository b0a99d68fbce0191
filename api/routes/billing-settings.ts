import { Router } from 'express';
import { callerOf } from '../auth';
import { readBillingSettings, updateBillingSettings } from '../../services/billing-settings-store';
import type { ApiDeps } from '../deps';
import { BillingSettingsPatchSchema } from '../../services/schemas/billing-settings';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

/**
 * The caller's organization's billing settings. The billing workflows read
 * them when they need them (see README "Billing settings"), so a change
 * applies from then on without restarting anything.
 */
export function billingSettingsRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const caller = callerOf(req);
    res.json(await readBillingSettings(deps.prisma, caller.organizationId));
  });

  router.patch('/', async (req, res) => {
    const caller = callerOf(req);
    const patch = parseOrThrow(BillingSettingsPatchSchema, req.body, 'request');
    res.json(await updateBillingSettings(deps.prisma, caller.organizationId, patch, apiKeyActor(caller)));
  });

  return router;
}
