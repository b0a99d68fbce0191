import type { Pool } from 'pg';
import { eventBurn, judgeCredits, walletBalance, type CreditVerdict } from '../billing/credit-burn';
import { dec, type Dec } from '../billing/decimal';
import { loadBurnRates } from '../prisma/burn-rates';
import { readCustomerGrants } from '../prisma/credit-ledger';
import { planInEffectSql } from '../prisma/plan-reads';
import { pgRawDb } from '../prisma/raw-db';

/**
 * The credits half of the entitlement check (POST /api/v1/entitlements/check
 * with `event_type`; issue 15, point 4): for a customer whose plan in effect
 * now is prepaid only, does its wallet cover the credits `quantity` of the
 * event type would burn at the rates in effect now (for the dimension values
 * in `properties`)? Null for every other customer: their uncovered usage is
 * invoiced as overage. One query for everyone; the rates and the wallet are
 * read only for prepaid-only customers. Advisory like the quota answer:
 * events sent anyway are stored, burn what the wallet has, and the rest is
 * invoiced.
 */
export async function checkCredits(
  pool: Pool,
  organizationId: string,
  request: { customerExternalId: string; eventType: string; quantity: Dec; properties: Readonly<Record<string, unknown>> | undefined },
  now: Date,
): Promise<CreditVerdict | null> {
  const { rows } = await pool.query<{ key: string }>({
    name: 'entitlement-prepaid-plans',
    text: `SELECT p.key FROM plans AS p
            WHERE p.prepaid_only AND p.id IN (
              SELECT ${planInEffectSql('s', '$3')}
                FROM subscriptions AS s JOIN customers AS c ON c.id = s.customer_id
               WHERE c.organization_id = $1 AND c.external_id = $2 AND s.start_date <= $3 AND (s.status = 'active' OR s.canceled_at > $3))
            ORDER BY p.key LIMIT 1`,
    values: [organizationId, request.customerExternalId, now.toISOString()],
  });
  const plan = rows[0];
  if (!plan) return null;
  const [burning, wallet, dimensions] = await Promise.all([
    loadBurnRates(pool, organizationId),
    readCustomerGrants(pgRawDb(pool), organizationId, request.customerExternalId, null),
    propertiesAsText(pool, request.properties),
  ]);
  const required = burning ? eventBurn(burning.rates, { eventType: request.eventType, quantity: request.quantity, timestamp: now, dimensions }).credits : dec(0);
  return judgeCredits({ planKey: plan.key, eventType: request.eventType, quantity: request.quantity, required, balance: walletBalance(wallet?.grants ?? [], now) });
}

/**
 * The properties' values as ingest's burn reads a stored event's dimension (`properties ->> key`): PostgreSQL makes
 * the text, so a number, a boolean or an object here is the same string a stored event's would be.
 */
export async function propertiesAsText(pool: Pool, properties: Readonly<Record<string, unknown>> | undefined): Promise<Record<string, string | null>> {
  if (!properties || Object.keys(properties).length === 0) return {};
  const { rows } = await pool.query<{ key: string; value: string | null }>({
    name: 'entitlement-properties-as-text',
    text: 'SELECT key, value FROM jsonb_each_text($1::jsonb)',
    values: [JSON.stringify(properties)],
  });
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}
