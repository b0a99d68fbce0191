import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { formatMoney, toMinorUnits } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import { canTransition, type FindingStatus } from '../../billing/leaks';
import { writeAudit } from '../../prisma/audit';
import type { LeakFindingModel, Prisma } from '../../prisma/client';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { callStripe } from '../stripe/errors';
import { workflowActor } from '../workflow-actor';

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
  `Ledgerflow leak recovery: ${f.kind.replace(/_/g, ' ')} (${f.subject}) for ${f.periodStart.toISOString().slice(0, 10)} – ${f.periodEnd.toISOString().slice(0, 10)}`;

/**
 * A Stripe draft invoice for the leak amount, left as a draft (auto_advance
 * off) for finance to review and finalize in Stripe. Skipped when the worker
 * has no Stripe client, the customer has no Stripe mapping, or the amount
 * rounds to zero.
 */
export function createRecoveryDraft(deps: ActivityDeps) {
  return async function createRecoveryDraft(ref: FindingRef): Promise<ActionOutcome> {
    const { prisma, stripe } = deps;
    return once(prisma, ref, 'stripe_draft', async (key) => {
      const finding = await loadFinding(prisma, ref);
      const customer = finding.customerId ? await prisma.customer.findFirst({ where: { id: finding.customerId, organizationId: ref.organizationId } }) : null;
      const amount = toMinorUnits(dec(finding.leakAmount), finding.currency);
      if (!stripe) return { status: 'skipped', summary: { reason: 'no Stripe client configured' } };
      if (!customer?.stripeCustomerId) return { status: 'skipped', summary: { reason: 'the customer has no Stripe mapping' } };
      if (amount <= 0) return { status: 'skipped', summary: { reason: 'the leak rounds to zero' } };
      const currency = finding.currency.toLowerCase();
      const metadata = { ledgerflow_finding_id: finding.id, ledgerflow_organization_id: ref.organizationId };
      const invoice = await callStripe(() =>
        stripe.invoices.create(
          { customer: customer.stripeCustomerId!, currency, collection_method: 'charge_automatically', auto_advance: false, pending_invoice_items_behavior: 'exclude', metadata },
          { idempotencyKey: `ledgerflow-${key}-invoice` },
        ),
      );
      await callStripe(() =>
        stripe.invoiceItems.create(
          { customer: customer.stripeCustomerId!, invoice: invoice.id, amount, currency, description: describe(finding), metadata },
          { idempotencyKey: `ledgerflow-${key}-item` },
        ),
      );
      return { status: 'done', summary: { stripeInvoiceId: invoice.id, amount: formatMoney(dec(finding.leakAmount), finding.currency), currency } };
    });
  };
}

/** One `leak.finding` notification in the outbox (the channel notifier sends it to Slack and email). */
export function queueLeakAlert({ prisma }: ActivityDeps) {
  return async function queueLeakAlert(ref: FindingRef): Promise<ActionOutcome> {
    return once(prisma, ref, 'notification', async (key) => {
      const f = await loadFinding(prisma, ref);
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
      };
      const rows = await prisma.$executeRaw`
        INSERT INTO notifications (id, organization_id, kind, dedupe_key, payload)
        VALUES (gen_random_uuid(), ${ref.organizationId}::uuid, 'leak.finding', ${key}, ${JSON.stringify(payload)}::jsonb)
        ON CONFLICT (organization_id, dedupe_key) DO NOTHING`;
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
 * HMAC-SHA256 over the body. Network faults, 5xx, 408 and 429 throw so
 * Temporal retries them (same body, same Idempotency-Key); any other 4xx is
 * a refusal that would repeat, so it fails for good. Skipped when the
 * organization has no webhook URL or secret.
 */
export function sendCrmTask({ prisma }: ActivityDeps) {
  return async function sendCrmTask(ref: FindingRef): Promise<ActionOutcome> {
    return once(prisma, ref, 'crm_webhook', async (key) => {
      const org = await prisma.organization.findUniqueOrThrow({ where: { id: ref.organizationId }, select: { crmWebhookUrl: true, crmWebhookSecret: true } });
      if (!org.crmWebhookUrl || !org.crmWebhookSecret) return { status: 'skipped', summary: { reason: 'no CRM webhook URL and secret configured' } };
      const body = crmBody(await loadFinding(prisma, ref), key);
      const signature = createHmac('sha256', org.crmWebhookSecret).update(body).digest('hex');
      const res = await fetch(org.crmWebhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key, [CRM_SIGNATURE_HEADER]: `sha256=${signature}` },
        body,
        signal: AbortSignal.timeout(15_000),
      });
      if (!res.ok) {
        const message = `CRM webhook answered HTTP ${res.status}`;
        if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Error(message);
        throw ApplicationFailure.nonRetryable(message, 'CrmWebhookRefused');
      }
      return { status: 'done', summary: { httpStatus: res.status } };
    });
  };
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
