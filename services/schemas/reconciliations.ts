import { z } from 'zod';
import 'zod-openapi';
import { instantInput } from './instant';

/** A reconciliation to start: the API's POST /reconciliations and the web app's leaks page take the same. */
export const StartReconciliationSchema = z
  .strictObject({
    period_start: instantInput('Reconcile the invoices whose period starts at or after this instant', '2024-06-01'),
    period_end: instantInput('… and before this one (exclusive)', '2024-07-01'),
  })
  .refine((b) => !(b.period_start instanceof Date && b.period_end instanceof Date) || b.period_end > b.period_start, { path: ['period_end'], message: 'must be after period_start' })
  .meta({ id: 'StartReconciliation' });
