import { Router } from 'express';
import { readAlertSettings, updateAlertSettings } from '../../services/alert-settings-store';
import { callerOf } from '../auth';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { alertSettingsPatchSchema } from '../../services/schemas/alert-settings';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

/** The caller's organization's alert routes and channel secrets; the worker picks a change up within a minute. */
export function alertSettingsRouter(deps: ApiDeps, config: Pick<ApiConfig, 'outbound'>): Router {
  const router = Router();
  const patchSchema = alertSettingsPatchSchema(config.outbound);

  router.get('/', async (req, res) => {
    res.json(await readAlertSettings(deps.prisma, callerOf(req).organizationId));
  });

  router.patch('/', async (req, res) => {
    const caller = callerOf(req);
    const patch = parseOrThrow(patchSchema, req.body, 'request');
    res.json(await updateAlertSettings(deps.prisma, caller.organizationId, patch, apiKeyActor(caller)));
  });

  return router;
}
