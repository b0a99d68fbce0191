import { Context } from '@temporalio/activity';
import { marginWindow, planAlertChanges, type AlertChange, type AlertLevel, type AlertState } from '../../billing/margins';
import { writeAudit } from '../../prisma/audit';
import { emitWebhookEvents, notificationWebhookEvents } from '../../prisma/webhook-events';
import type { Prisma } from '../../prisma/client';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';
import { temporalRunUrl, webEntityUrl } from './links';
import { formatMarginAmount } from '../../billing/margins';
import { readMargins, type MarginGroupBy, type MarginRow } from '../../prisma/margin-reads';

export interface EvaluateMarginAlertsInput {
  organizationId: string;
  /** the workflow's clock (ISO): which calendar month is current */
  asOf: string;
}

export interface EvaluateMarginAlertsResult {
  /** customer and feature rows looked at */
  evaluated: number;
  /** alert rows opened, reopened, worsened or resolved */
  changes: number;
  /** notifications put in the outbox */
  queued: number;
}

/**
 * Evaluations one worker process runs at once (its margin task queue's activity slots, worker/create-worker.ts). Each
 * holds up to three of Prisma's ten connections (two margin reads, then its transaction), and after the worker was
 * down every organization's watch missed meanwhile starts at once (the schedules skip overlaps, so one each): the rest
 * wait in that task queue, holding neither a worker slot nor a place in the pool's queue, where they ended in P2028
 * after TX_OPTIONS.maxWait and retried.
 */
export const MARGIN_EVALUATIONS_AT_ONCE = 2;

const ACTIONS: Record<AlertChange['action'], string> = { open: 'margin_alert.opened', worsen: 'margin_alert.worsened', resolve: 'margin_alert.resolved' };

/**
 * Computes the organization's margins for the current period (the UTC
 * calendar month through today) per customer and per feature, and brings the
 * margin_alerts rows in line with billing/margins.ts planAlertChanges: each
 * change updates its row, writes an audit row and, when it speaks, puts a
 * notification in the outbox, all in one transaction. The dedupe key names
 * the row's revision, so a retried activity (which re-plans against the rows
 * it already changed) queues nothing twice.
 *
 * One evaluation per organization at a time (an advisory lock): the schedule
 * skips overlapping runs, but a run started by hand must not race it.
 */
export function evaluateMarginAlerts({ prisma }: ActivityDeps) {
  return async function evaluateMarginAlerts(input: EvaluateMarginAlertsInput): Promise<EvaluateMarginAlertsResult> {
    const actor = workflowActor();
    const info = Context.current().info;
    const run = info.workflowExecution;
    const workflowUrl = run ? temporalRunUrl(info.workflowNamespace ?? info.namespace, run.workflowId, run.runId) : null;
    const org = await prisma.organization.findUniqueOrThrow({
      where: { id: input.organizationId },
      select: { marginThresholdBps: true, marginAlertStepBps: true },
    });
    const settings = { thresholdBps: org.marginThresholdBps, stepBps: org.marginAlertStepBps };
    const window = marginWindow('current_period', new Date(input.asOf));
    const scopes: MarginGroupBy[] = ['customer', 'feature'];
    const margins = await Promise.all(scopes.map(async (scope) => ({ scope, rows: await readMargins(prisma, input.organizationId, window, scope) })));
    // Timed out (or cancelled) while reading: the retry evaluates again, so this one takes no transaction's connection.
    Context.current().cancellationSignal.throwIfAborted();

    return prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`margin-watch:${input.organizationId}`}))`;
      const existing = await tx.marginAlert.findMany({ where: { organizationId: input.organizationId, periodStart: window.start } });
      const result: EvaluateMarginAlertsResult = { evaluated: 0, changes: 0, queued: 0 };
      for (const { scope, rows } of margins) {
        for (const row of rows) {
          result.evaluated += 1;
          const mine = existing.filter((a) => a.scope === scope && a.scopeKey === row.key && a.currency === row.currency);
          const states: AlertState[] = mine.map((a) => ({ level: a.level as AlertLevel, status: a.status as AlertState['status'], lastNotifiedBps: a.lastNotifiedBps }));
          for (const change of planAlertChanges(states, row, settings)) {
            const before = mine.find((a) => a.level === change.level) ?? null;
            const after = await applyChange(tx, { organizationId: input.organizationId, scope, row, periodStart: window.start, change, before });
            result.changes += 1;
            await writeAudit(tx, {
              organizationId: input.organizationId,
              actor,
              action: ACTIONS[change.action],
              entityType: 'margin_alert',
              entityId: after.id,
              before: before ? { status: before.status, lastNotifiedBps: before.lastNotifiedBps, revision: before.revision } : null,
              after: { status: after.status, level: after.level, marginBps: row.marginBps, lastNotifiedBps: after.lastNotifiedBps, revision: after.revision, notified: change.notify, margin: figures(row) },
            });
            if (!change.notify) continue;
            const payload = {
              alertId: after.id,
              level: change.level,
              scope,
              scopeKey: row.key,
              customerExternalId: row.customerExternalId,
              feature: scope === 'feature' ? row.key : null,
              ...figures(row),
              marginBps: row.marginBps,
              previousBps: before?.lastNotifiedBps ?? null,
              thresholdBps: settings.thresholdBps,
              periodStart: window.start.toISOString(),
              periodEnd: window.end.toISOString(),
              entityUrl: webEntityUrl(scope, row.key),
              workflowUrl,
            };
            const dedupeKey = `margin-alert:${after.id}:${after.revision}`;
            const queued = await tx.$executeRaw`
              INSERT INTO notifications (id, organization_id, kind, dedupe_key, payload)
              VALUES (gen_random_uuid(), ${input.organizationId}::uuid, ${change.notify}, ${dedupeKey}, ${JSON.stringify(payload)}::jsonb)
              ON CONFLICT (organization_id, dedupe_key) DO NOTHING`;
            if (queued > 0) await emitWebhookEvents(tx, input.organizationId, notificationWebhookEvents([{ kind: change.notify, dedupeKey, payload }]));
            result.queued += queued;
          }
        }
      }
      return result;
    }, TX_OPTIONS);
  };
}

type Tx = Prisma.TransactionClient;
type AlertRow = Awaited<ReturnType<Tx['marginAlert']['create']>>;

/** Opens (creates or reopens), worsens or resolves the alert row of one level. */
async function applyChange(
  tx: Tx,
  c: { organizationId: string; scope: MarginGroupBy; row: MarginRow; periodStart: Date; change: AlertChange; before: AlertRow | null },
): Promise<AlertRow> {
  const { change, before, row } = c;
  if (!before) {
    return tx.marginAlert.create({
      data: {
        organizationId: c.organizationId,
        scope: c.scope,
        scopeKey: row.key,
        currency: row.currency,
        periodStart: c.periodStart,
        level: change.level,
        marginBps: row.marginBps,
        status: 'open',
        lastNotifiedBps: change.lastNotifiedBps,
        revision: 1,
      },
    });
  }
  const data =
    change.action === 'resolve'
      ? { status: 'resolved', resolvedAt: new Date() }
      : change.action === 'open'
        ? { status: 'open', marginBps: row.marginBps, resolvedAt: null }
        : {};
  return tx.marginAlert.update({ where: { id: before.id }, data: { ...data, lastNotifiedBps: change.lastNotifiedBps, revision: { increment: 1 } } });
}

/** The amounts as people read them, each rounded on its own. */
function figures(row: MarginRow): { currency: string; revenue: string; cost: string; margin: string } {
  const show = (amount: MarginRow['revenue']) => formatMarginAmount(amount, row.currency);
  return { currency: row.currency, revenue: show(row.revenue), cost: show(row.cost), margin: show(row.margin) };
}
