import type { AppLoadContext } from 'react-router';
import { dec } from '../../../billing/decimal';
import type { ConfidenceReason } from '../../../billing/leaks';
import { dismissFinding, FindingNotFound, FindingStateConflict } from '../../../prisma/leak-findings';
import { FINDING_KINDS, FINDING_STATUSES } from '../leak-options';
import type { SignedInUser } from './auth.server';
import { money } from './money.server';


const day = (d: Date): string => d.toISOString().slice(0, 10);
const pick = <T extends string>(value: string | null, allowed: readonly T[]): T | null => (value && (allowed as readonly string[]).includes(value) ? (value as T) : null);

/** The organization's leak findings (newest period first), the actions taken on each, and what was recovered. */
export async function listFindings(context: AppLoadContext, organizationId: string, params: URLSearchParams) {
  const status = pick(params.get('status'), FINDING_STATUSES);
  const kind = pick(params.get('kind'), FINDING_KINDS);
  const [findings, recovered] = await Promise.all([
    context.prisma.leakFinding.findMany({
      where: { organizationId, ...(status ? { status } : {}), ...(kind ? { kind } : {}) },
      include: { actions: { orderBy: { createdAt: 'asc' } } },
      orderBy: [{ periodStart: 'desc' }, { createdAt: 'desc' }],
      take: 100,
    }),
    context.prisma.leakFinding.groupBy({ by: ['currency'], where: { organizationId, status: 'recovered' }, _sum: { leakAmount: true } }),
  ]);
  return {
    status,
    kind,
    recovered: recovered.map((r) => money(dec(r._sum.leakAmount?.toString() ?? '0'), r.currency)),
    findings: findings.map((f) => ({
      id: f.id,
      kind: f.kind.replace(/_/g, ' '),
      subject: f.subject,
      customer: f.customerExternalId,
      customerId: f.customerId,
      period: `${day(f.periodStart)} – ${day(f.periodEnd)}`,
      expected: money(f.expectedAmount, f.currency),
      billed: money(f.billedAmount, f.currency),
      leak: money(f.leakAmount, f.currency),
      confidence: `${dec(f.confidence.toString()).times(100).toFixed(1)} %`,
      reasons: (f.reasons as unknown as ConfidenceReason[]).map((r) => `${r.detail} (×${r.factor})`),
      status: f.status,
      actions: f.actions.map((a) => `${a.kind.replace(/_/g, ' ')}: ${a.status}`),
    })),
  };
}

export type DismissOutcome = { ok: boolean; message: string };

/** Finance's dismissal from the leaks page: the same rule and audit entry as the API's. */
export async function dismissFromWeb(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<DismissOutcome> {
  const findingId = String(form.get('finding') ?? '');
  const reason = String(form.get('reason') ?? '').trim();
  if (!reason) return { ok: false, message: 'Reason: say why the finding is dismissed.' };
  if (reason.length > 500) return { ok: false, message: 'Reason: at most 500 characters.' };
  if (!/^[0-9a-f-]{36}$/i.test(findingId)) return { ok: false, message: 'That finding does not exist.' };
  try {
    await dismissFinding(context.prisma, { organizationId: user.organizationId, findingId, reason, actor: { type: 'user', id: user.email } });
    return { ok: true, message: 'Dismissed. The reason is in the audit history.' };
  } catch (err) {
    if (err instanceof FindingNotFound || err instanceof FindingStateConflict) return { ok: false, message: err.message };
    throw err;
  }
}
