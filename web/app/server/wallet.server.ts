import type { AppLoadContext } from 'react-router';
import { toPlainString } from '../../../billing/decimal';
import { readLedgerEntries, walletDailyBalances, type LedgerEntryRow } from '../../../prisma/credit-ledger';
import { recentTopUps } from '../../../prisma/credit-top-ups';
import { pgRawDb } from '../../../prisma/raw-db';
import { createTopUp, topUpJson, TopUpCreateSchema } from '../../../services/credit-top-ups';
import { CreditGrantCreateSchema, grantCredits, listLedgerEntries, readWallet, updateWallet, WalletUpdateSchema } from '../../../services/credits';
import { isUuid } from '../../../services/ids';
import { TASK_QUEUE } from '../../../temporal/names';
import { LEDGER_KINDS, type LedgerKind } from '../ledger-kinds';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, refusal } from './forms.server';

/*
 * A customer's prepaid credits in the web app (issue 15, point 9): the
 * wallet's balance by grant, its balance over time, its ledger entries
 * (filtered, a page at a time, and as CSV), its top-ups, and the forms that
 * grant credits, buy them through Stripe and set the wallet's alerts and
 * automatic top-up — through the same services as the API.
 */

const PAGE = 50;
const CHART_DAYS = 90;
/** what one CSV export holds at most (the header says when it was cut) */
export const EXPORT_LIMIT = 100_000;

const kindOf = (params: URLSearchParams): LedgerKind | undefined => {
  const kind = params.get('kind');
  return (LEDGER_KINDS as readonly string[]).includes(kind ?? '') ? (kind as LedgerKind) : undefined;
};

async function customerOf(context: AppLoadContext, organizationId: string, customerId: string | undefined) {
  if (!customerId || !isUuid(customerId)) return null;
  const customer = await context.prisma.customer.findFirst({
    where: { id: customerId, organizationId },
    include: { creditWallet: { select: { id: true } }, parent: { select: { id: true, externalId: true, creditWallet: { select: { id: true } } } } },
  });
  // (a customer in a team pool draws on its parent's wallet)
  return customer && { ...customer, walletId: (customer.parent ? customer.parent.creditWallet?.id : customer.creditWallet?.id) ?? null };
}

export async function readWalletPage(context: AppLoadContext, organizationId: string, customerId: string | undefined, params: URLSearchParams, now = new Date()) {
  const customer = await customerOf(context, organizationId, customerId);
  if (!customer) return null;
  const kind = kindOf(params);
  const after = params.get('after') ?? undefined;
  const walletId = customer.walletId;
  const from = new Date(now.getTime() - (CHART_DAYS - 1) * 86_400_000);
  const [wallet, entries, balances, topUps] = await Promise.all([
    readWallet(pgRawDb(context.pool), organizationId, customer.externalId, now),
    listLedgerEntries(context.prisma, organizationId, customer.externalId, { kind, after: after && isUuid(after) ? after : undefined, limit: PAGE }),
    walletId ? walletDailyBalances(context.prisma, walletId, from, now) : Promise.resolve([]),
    walletId ? recentTopUps(context.prisma, organizationId, walletId, 10) : Promise.resolve([]),
  ]);
  return {
    customer: { id: customer.id, externalId: customer.externalId, name: customer.name ?? customer.externalId },
    poolParent: customer.parent && { id: customer.parent.id, externalId: customer.parent.externalId },
    wallet,
    kind: kind ?? '',
    entries: entries.data,
    nextAfter: entries.has_more ? entries.data.at(-1)!.id : null,
    balances: balances.map((b) => ({ day: b.day, balance: toPlainString(b.balance) })),
    topUps: topUps.map(topUpJson),
  };
}

/** Every ledger entry of the customer's wallet (of one kind, when asked), oldest first, up to EXPORT_LIMIT. */
export async function readWalletExport(context: AppLoadContext, organizationId: string, customerId: string | undefined, params: URLSearchParams) {
  const customer = await customerOf(context, organizationId, customerId);
  if (!customer) return null;
  const walletId = customer.walletId;
  const rows: LedgerEntryRow[] = [];
  let after: string | undefined;
  while (walletId && rows.length <= EXPORT_LIMIT) {
    const page = await readLedgerEntries(context.prisma, { walletId, after, limit: 5_000, kind: kindOf(params) });
    rows.push(...page);
    if (page.length < 5_000) break;
    after = page.at(-1)!.id;
  }
  return { externalId: customer.externalId, rows: rows.slice(0, EXPORT_LIMIT), truncated: rows.length > EXPORT_LIMIT };
}

export const LEDGER_CSV_COLUMNS = ['id', 'created_at', 'kind', 'key', 'event_id', 'grant_id', 'debit', 'credit', 'amount'] as const;

export type WalletOutcome = { ok: boolean; message: string; field?: string; form?: string };

const LABELS: Record<string, string> = {
  credits: 'Credits',
  price_per_credit: 'Price per credit',
  currency: 'Currency',
  expires_at: 'Expires at',
  pay_by: 'Pay by invoice, due (UTC)',
  description: 'Description',
  low_balance_threshold: 'Alert at or below',
  'auto_top_up.below': 'Top up below',
  'auto_top_up.credits': 'Credits to buy',
  'auto_top_up.price_per_credit': 'Price per credit',
  'auto_top_up.currency': 'Currency',
};

const optionalText = (form: FormData, name: string) => formText(form, name) || undefined;

/** The wallet page's forms: grant, top-up, settings. */
export async function applyWalletForm(context: AppLoadContext, user: SignedInUser, customerId: string | undefined, form: FormData): Promise<WalletOutcome> {
  const customer = await customerOf(context, user.organizationId, customerId);
  if (!customer) return { ok: false, message: 'No such customer in your organization.' };
  const intent = formText(form, 'intent');
  const actor = { type: 'user', id: user.email } as const;
  const deps = { prisma: context.prisma, temporal: context.temporal, taskQueue: TASK_QUEUE };
  const outcome = async (): Promise<WalletOutcome> => {
    try {
      if (intent === 'grant') {
        const expires = optionalText(form, 'expires_at');
        const parsed = CreditGrantCreateSchema.safeParse({
          credits: formText(form, 'credits'),
          kind: formText(form, 'kind') || 'purchased',
          price_per_credit: formText(form, 'price_per_credit') || '0',
          currency: formText(form, 'currency') || 'usd',
          ...(expires ? { expires_at: `${expires}:00Z` } : {}),
          ...(optionalText(form, 'description') ? { description: formText(form, 'description') } : {}),
        });
        if (!parsed.success) return formProblem(parsed.error, LABELS);
        const { grant } = await grantCredits(deps, user.organizationId, customer.externalId, parsed.data, actor);
        return { ok: true, message: `Granted ${grant.credits} credits to ${customer.externalId}.` };
      }
      if (intent === 'top-up') {
        const parsed = TopUpCreateSchema.safeParse({
          customer_external_id: customer.externalId,
          credits: formText(form, 'credits'),
          price_per_credit: formText(form, 'price_per_credit'),
          currency: formText(form, 'currency') || 'usd',
          ...(optionalText(form, 'pay_by') ? { pay_by: `${optionalText(form, 'pay_by')}:00Z` } : {}),
        });
        if (!parsed.success) return formProblem(parsed.error, LABELS);
        const { topUp } = await createTopUp(deps, user.organizationId, parsed.data, actor);
        const how = topUp.pay_by ? `its invoice is sent to the customer to pay online by ${topUp.pay_by.replace('T', ' ').slice(0, 16)} UTC` : 'it is charged to the card on file';
        return { ok: true, message: `Top-up of ${topUp.credits} credits for ${topUp.amount} ${topUp.currency.toUpperCase()} requested: ${how} (${topUp.workflow_id}).` };
      }
      if (intent === 'settings') {
        const auto = ['below', 'credits', 'price_per_credit'].some((f) => formText(form, `auto_${f}`) !== '');
        const parsed = WalletUpdateSchema.safeParse({
          low_balance_threshold: formText(form, 'low_balance_threshold') || null,
          auto_top_up: auto
            ? { below: formText(form, 'auto_below'), credits: formText(form, 'auto_credits'), price_per_credit: formText(form, 'auto_price_per_credit'), currency: formText(form, 'auto_currency') || 'usd' }
            : null,
        });
        if (!parsed.success) return formProblem(parsed.error, LABELS);
        await updateWallet(context.prisma, user.organizationId, customer.externalId, parsed.data, actor);
        return { ok: true, message: 'Wallet settings saved.' };
      }
      return { ok: false, message: `Unknown action "${intent}".` };
    } catch (err) {
      return refusal(err);
    }
  };
  return { ...(await outcome()), form: intent };
}
