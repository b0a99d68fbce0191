import { createHmac } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { formatMoney, roundMoney } from '../../billing/currency';
import { dec, toPlainString, type Dec } from '../../billing/decimal';
import { canTransition, type FindingStatus } from '../../billing/leaks';
import { writeAudit } from '../../prisma/audit';
import { emitInvoiceEvent, emitWebhookEvents, notificationWebhookEvents } from '../../prisma/webhook-events';
import { BILLED_INVOICE } from '../../prisma/billed-invoices';
import type { LeakFindingModel, Prisma } from '../../prisma/client';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';
import { temporalRunUrl, webFindingUrl } from '../margins/links';
import { startBillingRunWorkflow } from '../../temporal/billing-runs';
import { recoveryRunWorkflowId } from '../../temporal/workflow-ids';
import { isUniqueViolation } from '../../prisma/errors';
import { openOrganizationSecret } from '../../prisma/organization-secrets';
import { SecretKeyError, SecretOpenError } from '../../prisma/secret-box';
import { STRICT_OUTBOUND } from '../../billing/outbound-urls';
import { OutboundRefused } from '../../services/outbound-address';
import { postOutbound } from '../outbound/http';

export interface FindingRef {
  organizationId: string;
  findingId: string;
}

export type RecoveryKind = 'stripe_draft' | 'notification' | 'crm_webhook';

export interface ActionOutcome {
  status: 'done' | 'skipped';
  /** true when an earlier attempt (a retry, replay or reset) had already done it */
  already: boolean;
  summary: Record<string, unknown>;
}

/** The header carrying the HMAC-SHA256 (hex) of the exact body bytes, keyed with the organization's crmWebhookSecret. */
export const CRM_SIGNATURE_HEADER = 'ledgerflow-signature';

const idempotencyKey = (findingId: string, kind: RecoveryKind) => `leak:${findingId}:${kind}`;

async function loadFinding(prisma: ActivityDeps['prisma'], ref: FindingRef) {
  const finding = await prisma.leakFinding.findFirst({ where: { id: ref.findingId, organizationId: ref.organizationId } });
  if (!finding) throw ApplicationFailure.nonRetryable(`finding ${ref.findingId} not found in organization ${ref.organizationId}`, 'NotFound');
  return finding;
}

/**
 * Runs `perform` at most once per (finding, kind): the recovery_actions row
 * keyed by both is claimed first, and a row already done or skipped returns
 * its recorded outcome, so a retried activity or a reset/replayed workflow
 * never acts twice. The one window left — a crash after the outside world
 * accepted the action but before the row was marked — is closed by handing
 * the same key to the outside world (Stripe idempotency keys, the outbox
 * dedupe key, the webhook's Idempotency-Key header).
 */
async function once(prisma: ActivityDeps['prisma'], ref: FindingRef, kind: RecoveryKind, perform: (key: string) => Promise<Omit<ActionOutcome, 'already'>>): Promise<ActionOutcome> {
  const key = idempotencyKey(ref.findingId, kind);
  const row = await prisma.recoveryAction.upsert({ where: { idempotencyKey: key }, create: { findingId: ref.findingId, kind, idempotencyKey: key }, update: {} });
  if (row.status === 'done' || row.status === 'skipped') return { status: row.status, already: true, summary: (row.responseSummary ?? {}) as Record<string, unknown> };
  const outcome = await perform(key);
  const actor = workflowActor();
  await prisma.$transaction(async (tx) => {
    await tx.recoveryAction.update({ where: { id: row.id }, data: { status: outcome.status, responseSummary: outcome.summary as Prisma.InputJsonValue, completedAt: new Date() } });
    await writeAudit(tx, { organizationId: ref.organizationId, actor, action: `leak.action.${outcome.status}`, entityType: 'leak_finding', entityId: ref.findingId, after: { kind, idempotencyKey: key, ...outcome.summary } as Prisma.InputJsonValue });
  }, TX_OPTIONS);
  return { ...outcome, already: false };
}

const describe = (f: LeakFindingModel) =>
  `Recovery: ${f.kind.replace(/_/g, ' ')} (${f.subject}) for ${f.periodStart.toISOString().slice(0, 10)} – ${f.periodEnd.toISOString().slice(0, 10)}`;

const RECOVERY_ACTOR = 'reconciliation';

/**
 * The recovery invoice for a finding: one `adjustment` line of the leak,
 * rounded to the currency's minor unit, against the subscription whose
 * period invoice the leak was found in. Its unique key (subscription, period
 * start, finding) makes a repeat return the invoice already drafted.
 */
async function draftRecoveryInvoice(prisma: ActivityDeps['prisma'], finding: LeakFindingModel, period: { subscriptionId: string; customerId: string; currency: string }, amount: Dec) {
  const key = { subscriptionId: period.subscriptionId, periodStart: finding.periodStart, recoveryFindingId: finding.id, revision: 1 };
  const existing = await prisma.invoice.findUnique({ where: { subscriptionId_periodStart_recoveryFindingId_revision: key }, select: { id: true } });
  if (existing) return existing.id;
  const actor = workflowActor();
  try {
    return await prisma.$transaction(async (tx) => {
      const invoice = await tx.invoice.create({
        data: {
          ...key,
          organizationId: finding.organizationId,
          customerId: period.customerId,
          periodEnd: finding.periodEnd,
          kind: 'recovery',
          currency: period.currency,
          total: toPlainString(amount),
          workflowId: recoveryRunWorkflowId(finding.id),
          workflowRunId: '',
          lines: {
            create: {
              organizationId: finding.organizationId,
              position: 1,
              kind: 'adjustment',
              description: describe(finding),
              amount: toPlainString(amount),
              periodStart: finding.periodStart,
              periodEnd: finding.periodEnd,
              createdBy: RECOVERY_ACTOR,
            },
          },
        },
      });
      await emitInvoiceEvent(tx, finding.organizationId, invoice.id, 'invoice.drafted');
      await writeAudit(tx, {
        organizationId: finding.organizationId,
        actor,
        action: 'invoice.drafted',
        entityType: 'invoice',
        entityId: invoice.id,
        after: {
          kind: 'recovery',
          findingId: finding.id,
          subscriptionId: period.subscriptionId,
          periodStart: finding.periodStart.toISOString(),
          periodEnd: finding.periodEnd.toISOString(),
          currency: period.currency,
          total: formatMoney(amount, period.currency),
          lines: [{ kind: 'adjustment', description: describe(finding), amount: formatMoney(amount, period.currency) }],
        },
      });
      return invoice.id;
    }, TX_OPTIONS);
  } catch (err) {
    // Two attempts raced to draft it: the other one's invoice is the one.
    if (!isUniqueViolation(err)) throw err;
    return (await prisma.invoice.findUniqueOrThrow({ where: { subscriptionId_periodStart_recoveryFindingId_revision: key }, select: { id: true } })).id;
  }
}

/**
 * Recovers what a customer owes through Ledgerflow's own billing: drafts a
 * recovery invoice and starts its billing run, `recovery-run:<findingId>`,
 * which waits for the same finance approval as any invoice (approve, adjust
 * or reject; reminders; auto-approval) before it finalizes the invoice in
 * Stripe and collects. Skipped when the amount rounds to zero, the period
 * has no invoice of the customer's to recover against, or the leak is
 * unbilled usage of a subscription still running: its next close bills
 * those events as late usage, and a recovery invoice would bill them twice
 * (once that close claims them, the next reconciliation marks the finding
 * recovered). For a canceled subscription, no close is left to bill them,
 * so the invoice is drafted. (The recovery action keeps its first name,
 * stripe_draft, so findings actioned before the approval step existed are
 * not drafted a second time.)
 */
export function createRecoveryDraft(deps: ActivityDeps) {
  return async function createRecoveryDraft(ref: FindingRef): Promise<ActionOutcome> {
    const { prisma, temporal } = deps;
    if (!temporal) throw ApplicationFailure.nonRetryable('createRecoveryDraft needs a Temporal client in the activity dependencies', 'NotConfigured');
    return once(prisma, ref, 'stripe_draft', async () => {
      const finding = await loadFinding(prisma, ref);
      const amount = roundMoney(dec(finding.leakAmount), finding.currency);
      if (amount.lte(0)) return { status: 'skipped', summary: { reason: 'the leak rounds to zero' } };
      const period = finding.customerId
        ? await prisma.invoice.findFirst({
            where: { organizationId: ref.organizationId, customerId: finding.customerId, kind: 'period', periodStart: finding.periodStart, ...BILLED_INVOICE },
            select: { subscriptionId: true, customerId: true, currency: true, subscription: { select: { status: true } } },
          })
        : null;
      if (!period) return { status: 'skipped', summary: { reason: 'no invoice of the customer for the period to recover against' } };
      // The next close of an active subscription claims these events as late usage; an invoice now would bill them twice.
      if (finding.kind === 'unbilled_usage' && period.subscription.status === 'active') {
        return { status: 'skipped', summary: { reason: 'the next close of the subscription bills these events as late usage', subscriptionId: period.subscriptionId } };
      }
      const invoiceId = await draftRecoveryInvoice(prisma, finding, period, amount);
      const run = await startBillingRunWorkflow(
        temporal,
        { organizationId: ref.organizationId, subscriptionId: period.subscriptionId, periodStart: finding.periodStart.toISOString(), periodEnd: finding.periodEnd.toISOString(), recovery: { findingId: finding.id, invoiceId } },
        { taskQueue: deps.taskQueue, ...(deps.searchAttributes === false ? { searchAttributes: false } : {}) },
      );
      if (run.runId) await prisma.invoice.updateMany({ where: { id: invoiceId, workflowRunId: '' }, data: { workflowRunId: run.runId } });
      return { status: 'done', summary: { invoiceId, workflowId: run.workflowId, amount: formatMoney(amount, finding.currency), currency: finding.currency } };
    });
  };
}

/** One `leak.finding` notification in the outbox (the channel notifier sends it to Slack and email). */
export function queueLeakAlert({ prisma }: ActivityDeps) {
  return async function queueLeakAlert(ref: FindingRef): Promise<ActionOutcome> {
    return once(prisma, ref, 'notification', async (key) => {
      const f = await loadFinding(prisma, ref);
      const info = Context.current().info;
      const run = info.workflowExecution;
      const payload = {
        findingId: f.id,
        kind: f.kind,
        subject: f.subject,
        customerExternalId: f.customerExternalId,
        periodStart: f.periodStart.toISOString(),
        periodEnd: f.periodEnd.toISOString(),
        expected: formatMoney(dec(f.expectedAmount), f.currency),
        billed: formatMoney(dec(f.billedAmount), f.currency),
        leak: formatMoney(dec(f.leakAmount), f.currency),
        currency: f.currency,
        confidence: dec(f.confidence).toFixed(3),
        reasons: f.reasons,
        entityUrl: webFindingUrl(f.id),
        workflowUrl: run ? temporalRunUrl(info.workflowNamespace ?? info.namespace, run.workflowId, run.runId) : null,
      };
      const rows = await prisma.$transaction(async (tx) => {
        const inserted = await tx.$executeRaw`
          INSERT INTO notifications (id, organization_id, kind, dedupe_key, payload)
          VALUES (gen_random_uuid(), ${ref.organizationId}::uuid, 'leak.finding', ${key}, ${JSON.stringify(payload)}::jsonb)
          ON CONFLICT (organization_id, dedupe_key) DO NOTHING`;
        if (inserted > 0) await emitWebhookEvents(tx, ref.organizationId, notificationWebhookEvents([{ kind: 'leak.finding', dedupeKey: key, payload }]));
        return inserted;
      }, TX_OPTIONS);
      return { status: 'done', summary: { dedupeKey: key, queued: rows > 0 } };
    });
  };
}

/** The CRM task body: deterministic for a finding, so every retry sends (and signs) the same bytes. */
function crmBody(f: LeakFindingModel, key: string): string {
  return JSON.stringify({
    type: 'ledgerflow.leak_finding',
    idempotency_key: key,
    task: { title: `Recover ${formatMoney(dec(f.leakAmount), f.currency)} ${f.currency.toUpperCase()}: ${f.kind.replace(/_/g, ' ')} for ${f.customerExternalId}`, due_in_days: 7 },
    finding: {
      id: f.id,
      kind: f.kind,
      subject: f.subject,
      customer_external_id: f.customerExternalId,
      period_start: f.periodStart.toISOString(),
      period_end: f.periodEnd.toISOString(),
      expected_amount: formatMoney(dec(f.expectedAmount), f.currency),
      billed_amount: formatMoney(dec(f.billedAmount), f.currency),
      leak_amount: formatMoney(dec(f.leakAmount), f.currency),
      currency: f.currency,
      confidence: dec(f.confidence).toFixed(3),
    },
  });
}

/**
 * POSTs a CRM task to the organization's crmWebhookUrl, signed with
 * HMAC-SHA256 over the body, through the outbound guard (https to a public
 * address only; billing/outbound-urls.ts and services/outbound-address.ts). Network faults, 5xx, 408 and
 * 429 throw so Temporal retries them (same body, same Idempotency-Key); any
 * other answer outside 2xx (redirects are not followed) and a refused URL or
 * address would repeat, so they fail for good. Skipped when the organization
 * has no webhook URL or secret.
 */
export function sendCrmTask({ prisma, outbound = STRICT_OUTBOUND }: ActivityDeps) {
  return async function sendCrmTask(ref: FindingRef): Promise<ActionOutcome> {
    return once(prisma, ref, 'crm_webhook', async (key) => {
      const org = await prisma.organization.findUniqueOrThrow({ where: { id: ref.organizationId }, select: { crmWebhookUrl: true, crmWebhookSecretEnc: true } });
      if (!org.crmWebhookUrl || !org.crmWebhookSecretEnc) return { status: 'skipped', summary: { reason: 'no CRM webhook URL and secret configured' } };
      const secret = openSecretForActivity(() => openOrganizationSecret('crm_webhook_secret', ref.organizationId, org.crmWebhookSecretEnc)!);
      const body = crmBody(await loadFinding(prisma, ref), key);
      const signature = createHmac('sha256', secret).update(body).digest('hex');
      let status: number;
      try {
        ({ status } = await postOutbound(
          org.crmWebhookUrl,
          { headers: { 'content-type': 'application/json', 'idempotency-key': key, [CRM_SIGNATURE_HEADER]: `sha256=${signature}` }, body, timeoutMs: 15_000 },
          outbound,
        ));
      } catch (err) {
        // The same URL and address would be refused on every retry: say so once, for good.
        if (err instanceof OutboundRefused) throw ApplicationFailure.nonRetryable(`CRM webhook ${err.message}`, 'CrmWebhookRefused');
        throw err;
      }
      if (status < 200 || status >= 300) {
        const message = `CRM webhook answered HTTP ${status}`;
        if (status >= 500 || status === 408 || status === 429) throw new Error(message);
        throw ApplicationFailure.nonRetryable(message, 'CrmWebhookRefused');
      }
      return { status: 'done', summary: { httpStatus: status } };
    });
  };
}

/** A secret that cannot be opened (no key, another key, an altered value) will not open on a retry either: fail for good, saying why. */
function openSecretForActivity(open: () => string): string {
  try {
    return open();
  } catch (err) {
    if (err instanceof SecretKeyError || err instanceof SecretOpenError) throw ApplicationFailure.nonRetryable(err.message, err.name);
    throw err;
  }
}

/**
 * Moves a finding from one status to another with an audit row naming the
 * actor. The same move again is a no-op (a retry); any other move the
 * status rules forbid is refused.
 */
export function moveFinding({ prisma }: ActivityDeps) {
  return async function moveFinding(ref: FindingRef & { to: FindingStatus; reason?: string }): Promise<{ status: FindingStatus }> {
    const actor = workflowActor();
    return prisma.$transaction(async (tx) => {
      const finding = await tx.leakFinding.findFirst({ where: { id: ref.findingId, organizationId: ref.organizationId }, select: { status: true } });
      if (!finding) throw ApplicationFailure.nonRetryable(`finding ${ref.findingId} not found`, 'NotFound');
      const from = finding.status as FindingStatus;
      if (from === ref.to) return { status: from };
      // A person may have dismissed it while the actions ran: keep their decision.
      if (!canTransition(from, ref.to)) return { status: from };
      await tx.leakFinding.update({ where: { id: ref.findingId }, data: { status: ref.to } });
      await writeAudit(tx, { organizationId: ref.organizationId, actor, action: `leak.${ref.to}`, entityType: 'leak_finding', entityId: ref.findingId, before: { status: from }, after: { status: ref.to, reason: ref.reason ?? null } });
      return { status: ref.to };
    }, TX_OPTIONS);
  };
}
