import { applicableLimit } from '../billing/applicable-limit';
import { dec, toPlainString, type Dec } from '../billing/decimal';
import { quotaLevel, type QuotaLevel } from '../billing/quota';
import { quotaWindow } from '../billing/quota-window';
import { RATE_PRICES, rateVendorUsage, splitVendorUsage, type RatePriceName, type RatePrices, type TokenRate, type TokenUsage } from '../billing/token-cost';
import { insertAuditRows, type AuditActor } from '../prisma/audit';
import { INGEST_CHANNEL } from '../prisma/ingest-channel';
import type { Queryable } from '../prisma/pg';
import { pgRawDb } from '../prisma/raw-db';
import { autoTopUpOf, prepareBurns, type BurnResult } from '../prisma/credit-ledger';
import { queueAutoTopUps, type AutoTopUp } from '../prisma/credit-top-ups';
import { creditAlertKey, creditAlertLevel } from '../billing/credit-alerts';
import type { BurnRates } from '../prisma/burn-rates';
import { allocateUncovered, eventBurn, eventMicroCredits, fromMicroCredits, type BurnRate, type StoredBurnableEvent } from '../billing/credit-burn';
import { raiseNotifications, type RaisedNotification } from './raise-notifications';
import { LIMIT_COLUMNS, type QuotaLimitRow } from '../prisma/quota-limit-row';

/*
 * The steps of rating one processing batch, as set-based SQL through plain
 * pg (no ORM on the hot path), each taking the connection of the caller's
 * transaction. The processBatch activity runs them all in one transaction;
 * the older one-step-per-activity workflows run each in its own. Every step
 * only touches what is not done yet, so running it twice changes nothing.
 */

export interface BatchContext {
  batchId: string;
  organizationId: string;
  actor: AuditActor;
  /** the requests (ingest_batches ids) the batch claimed: its events are theirs */
  requestIds: string[];
}

/** The requests a processing batch claimed, scoped by organization: another organization's batch id yields nothing. */
export async function batchRequestIds(db: Queryable, batchId: string, organizationId: string): Promise<string[]> {
  const { rows } = await db.query<{ request_ids: string[] }>({
    name: 'ingest-batch-requests',
    text: 'SELECT request_ids FROM processing_batches WHERE id = $1 AND organization_id = $2',
    values: [batchId, organizationId],
  });
  return rows[0]?.request_ids ?? [];
}

/**
 * An event of the batch as processBatch reads it, once, for every step: rating, customers, quota hours and the
 * processed count (each read the batch's events on its own before, four scans of up to 1,000 rows). `d<i>` is the
 * event's value of the i-th burn-rate dimension.
 */
export interface BatchEvent {
  id: string;
  timestamp: Date;
  vendor_usage: unknown;
  customer_external_id: string;
  event_type: string;
  quantity: string;
  reservation_id: string | null;
  /** rated already (a retried or reset batch): not rated again, but its usage counts towards quotas as before */
  rated: boolean;
  [dimension: `d${number}`]: string | null;
}

/** Every event of the batch, with the burn-rate dimensions asked for. */
export async function readBatchEvents(db: Queryable, ctx: BatchContext, dimensions: readonly string[] = []): Promise<BatchEvent[]> {
  const { rows } = await db.query<BatchEvent>({
    name: `ingest-batch-events-${dimensions.length}`,
    text: `SELECT e.id, e.timestamp, e.vendor_usage, e.customer_external_id, e.event_type, e.quantity::text AS quantity, e.reservation_id,
                  e.status = 'rated' AS rated${dimensions.map((_, i) => `, e.properties ->> $${i + 3} AS d${i}`).join('')}
             FROM usage_events AS e
            WHERE e.batch_id = ANY($1::uuid[]) AND e.organization_id = $2`,
    values: [ctx.requestIds, ctx.organizationId, ...dimensions],
  });
  return rows;
}

/** Audits the customers a batch created (one `customer.created` row each). */
async function auditCreatedCustomers(db: Queryable, ctx: BatchContext, created: readonly { id: string; external_id: string }[]): Promise<void> {
  await insertAuditRows(
    db,
    created.map((customer) => ({
      organizationId: ctx.organizationId,
      actor: ctx.actor,
      action: 'customer.created',
      entityType: 'customer',
      entityId: customer.id,
      after: { externalId: customer.external_id, firstBatchId: ctx.batchId },
    })),
  );
}

/**
 * Creates the customers the batch mentions for the first time (with a
 * `customer.created` audit row each). ORDER BY gives concurrent batches the
 * same insertion order, so two batches creating overlapping new customers
 * wait rather than deadlock. The events are linked by rateEvents.
 */
export async function createCustomers(db: Queryable, ctx: BatchContext): Promise<number> {
  const { rows } = await db.query<{ id: string; external_id: string }>({
    name: 'ingest-create-customers',
    text: `INSERT INTO customers (id, organization_id, external_id)
           SELECT gen_random_uuid(), $1, external_id
             FROM (SELECT DISTINCT customer_external_id AS external_id
                     FROM usage_events
                    WHERE batch_id = ANY($2::uuid[]) AND organization_id = $1 AND status <> 'rated'
                    ORDER BY 1) AS first_seen
           ON CONFLICT (organization_id, external_id) DO NOTHING
           RETURNING id, external_id`,
    values: [ctx.organizationId, ctx.requestIds],
  });
  await auditCreatedCustomers(db, ctx, rows);
  return rows.length;
}

/**
 * The customers of the batch's events still to rate, created where new (as createCustomers, from the events read
 * already), with their ids: the one read of the batch needs no join. The ids are read by a statement of their own,
 * after the insert, so a customer another batch created meanwhile (the insert waited for it) is seen too.
 */
export async function linkBatchCustomers(db: Queryable, ctx: BatchContext, events: readonly BatchEvent[]): Promise<{ created: number; ids: Map<string, string> }> {
  const externalIds = [...new Set(events.filter((e) => !e.rated).map((e) => e.customer_external_id))];
  if (externalIds.length === 0) return { created: 0, ids: new Map() };
  const { rows: created } = await db.query<{ id: string; external_id: string }>({
    name: 'ingest-link-customers-create',
    text: `INSERT INTO customers (id, organization_id, external_id)
           SELECT gen_random_uuid(), $1, external_id FROM unnest($2::text[]) AS u(external_id) ORDER BY 3
           ON CONFLICT (organization_id, external_id) DO NOTHING
           RETURNING id, external_id`,
    values: [ctx.organizationId, externalIds],
  });
  await auditCreatedCustomers(db, ctx, created);
  return { created: created.length, ids: await customerIds(db, ctx, externalIds) };
}

/** The ids of the organization's customers with these external ids (those that exist). */
async function customerIds(db: Queryable, ctx: BatchContext, externalIds: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await db.query<{ id: string; external_id: string }>({
    name: 'ingest-link-customers-ids',
    text: 'SELECT id, external_id FROM customers WHERE organization_id = $1 AND external_id = ANY($2::text[])',
    values: [ctx.organizationId, externalIds],
  });
  return new Map(rows.map((r) => [r.external_id, r.id]));
}

export interface RateEventsResult {
  eventsRated: number;
  /** events with vendor usage lines no rate covered (see `event.rating_incomplete` audit rows) */
  eventsIncomplete: number;
}

/**
 * Links every event of the batch to its customer and rates it at its own
 * timestamp, marking it `rated` — one UPDATE … FROM unnest(…), the only
 * write to the event row after its insert but a re-rate's
 * (services/unpriced-events.ts), which only adds the cost of lines left
 * unpriced here.
 *
 * - cost: the sum of the event's vendor usage lines at the rates in effect at
 *   the event's timestamp (0 for an event without vendor usage: it cost us
 *   nothing in tokens). A line with no rate in effect (or a count its rate
 *   has no price for) is not priced at zero silently: cost holds the priced
 *   lines only, unpriced_usage keeps the others and the event gets an
 *   `event.rating_incomplete` audit row listing them, in the same
 *   transaction, so the gap is visible and can be re-rated
 *   (services/unpriced-events.ts) once a rate prices it.
 * - revenue: `revenue_amount` as sent; NULL stays NULL, because "the app
 *   reported no per-event revenue" (priced later by plan) is not "zero revenue".
 *
 * Only events not yet `rated` are touched (`pending`, or `customer_linked`
 * from before linking and rating became one write).
 */
export async function rateBatchEvents(
  db: Queryable,
  ctx: BatchContext,
  burning: BurnRates | null = null,
  read: { events: readonly BatchEvent[]; customerIds: ReadonlyMap<string, string> } | null = null,
): Promise<RateEventsResult & { walletsBurned: number; creditAlerts: number; topUpsQueued: string[] }> {
  // processBatch hands over its one read of the batch (with what burning needs, planBatchBurn); the older
  // one-step-per-activity workflows read here, after their linking step. An event its wallet covered is marked by
  // rating's UPDATE, one it could not is a usage_event_credits row.
  const batch = read?.events ?? (await readBatchEvents(db, ctx, burning?.dimensions));
  const toRate = batch.filter((e) => !e.rated);
  const ids = read?.customerIds ?? (await customerIds(db, ctx, [...new Set(toRate.map((e) => e.customer_external_id))]));
  const events: (BatchEvent & { customer_id: string | null })[] = toRate.map((e) => ({ ...e, customer_id: ids.get(e.customer_external_id) ?? null }));
  if (events.length === 0) return { eventsRated: 0, eventsIncomplete: 0, walletsBurned: 0, creditAlerts: 0, topUpsQueued: [] };

  const usageById = new Map(events.map((e) => [e.id, splitVendorUsage(e.vendor_usage)]));
  const rates = await loadRates(db, ctx.organizationId, [...usageById.values()].flatMap((u) => u.lines));
  const ratings = events.map((event) => {
    const usage = usageById.get(event.id) ?? { lines: [], malformed: [] };
    const rated = rateVendorUsage(rates, usage.lines, event.timestamp);
    return { id: event.id, customerId: event.customer_id, cost: toPlainString(rated.cost), rateIds: rated.rateIds, unpriced: [...rated.unrated, ...usage.malformed] };
  });

  const burn = burning
    ? await planBatchBurn(
        db,
        ctx,
        burning.rates,
        events
          .filter((e) => e.customer_id !== null)
          .map((e) => ({
            id: e.id,
            customerId: e.customer_id!,
            eventType: e.event_type,
            quantity: e.quantity,
            timestamp: e.timestamp,
            reservationId: e.reservation_id ?? null,
            dimensions: burning.dimensions.length === 0 ? null : Object.fromEntries(burning.dimensions.map((d, i) => [d, e[`d${i}`] ?? null])),
          })),
      )
    : null;
  // An event its wallet covered in full is marked on its own row (credits_covered, one boolean: the update stays HOT);
  // one it could not is a usage_event_credits row. (Without covered events, the statement without the column.)
  const covered = burn && burn.burned > 0 ? ratings.map((r) => (burn.covered.has(r.id) ? true : null)) : null;
  const { rows: updated } = await db.query<{ id: string }>({
    name: covered ? 'ingest-rate-events-covered' : 'ingest-rate-events',
    text: `UPDATE usage_events AS e
              SET status = 'rated', customer_id = r.customer_id, cost = r.cost, revenue = e.revenue_amount,
                  rate_ids = string_to_array(r.rate_ids, ','), unpriced_usage = r.unpriced::jsonb, rated_at = now()${covered ? ', credits_covered = r.covered' : ''}
             FROM unnest($1::uuid[], $2::uuid[], $3::numeric[], $4::text[], $6::text[]${covered ? ', $7::boolean[]' : ''})
                  AS r(id, customer_id, cost, rate_ids, unpriced${covered ? ', covered' : ''})
            WHERE e.id = r.id AND e.organization_id = $5 AND e.status <> 'rated'
           RETURNING e.id`,
    values: [
      ratings.map((r) => r.id),
      ratings.map((r) => r.customerId),
      ratings.map((r) => r.cost),
      ratings.map((r) => r.rateIds.join(',')),
      ctx.organizationId,
      ratings.map((r) => (r.unpriced.length > 0 ? JSON.stringify(r.unpriced) : null)),
      ...(covered ? [covered] : []),
    ],
  });
  // The events are the batch's, under its row lock (lockUnprocessed): every one read is updated. Were one rated
  // meanwhile by another transaction, what the plan burned for it would be burned twice: refuse (the step is retried).
  if (burn && burn.burned > 0 && updated.length !== events.length) throw new Error(`batch ${ctx.batchId}: ${events.length} events read to rate but ${updated.length} updated`);
  if (burn && burn.short.size > 0) await insertEventCredits(db, burn.short);
  await burn?.write();
  const creditAlerts = await raiseNotifications(db, { ...ctx, source: { batchId: ctx.batchId } }, burn?.alerts ?? []);
  const topUpsQueued = await queueAutoTopUps(pgRawDb(db), ctx.organizationId, `${ctx.actor.type}:${ctx.actor.id}`, burn?.topUps ?? []);
  const updatedIds = new Set(updated.map((row) => row.id));
  const incomplete = ratings.filter((r) => r.unpriced.length > 0 && updatedIds.has(r.id));
  await insertAuditRows(
    db,
    incomplete.map((r) => ({
      organizationId: ctx.organizationId,
      actor: ctx.actor,
      action: 'event.rating_incomplete',
      entityType: 'usage_event',
      entityId: r.id,
      after: { pricedCost: r.cost, rateIds: r.rateIds, unpricedLines: r.unpriced as object[] },
    })),
  );
  return { eventsRated: updated.length, eventsIncomplete: incomplete.length, walletsBurned: burn?.walletsBurned ?? 0, creditAlerts, topUpsQueued };
}

/** A rated event as burning reads it: its customer and what the burn rates price. */
export interface RatedForBurn extends StoredBurnableEvent {
  id: string;
  customerId: string;
  /** the reservation the event commits (prisma/credit-ledger.ts prepareBurns settles it) */
  reservationId?: string | null;
}

/**
 * Stores what each event its wallet could not cover in full burned
 * (usage_event_credits, a narrow row, in rating's transaction): a close bills
 * those events' usage in their uncovered share. A covered event has its
 * credits_covered mark instead (rating's UPDATE); usually there is no row to
 * write.
 */
async function insertEventCredits(db: Queryable, short: ReadonlyMap<string, EventCredits>): Promise<void> {
  const rows = [...short];
  await db.query({
    name: 'ingest-event-credits',
    text: `INSERT INTO usage_event_credits (event_id, credits, uncovered, meter_ids)
           SELECT id, credits, uncovered, string_to_array(meter_ids, ',')::uuid[]
             FROM unnest($1::uuid[], $2::numeric[], $3::numeric[], $4::text[]) AS r(id, credits, uncovered, meter_ids)`,
    values: [rows.map(([id]) => id), rows.map(([, c]) => toPlainString(c.credits)), rows.map(([, c]) => toPlainString(c.uncovered)), rows.map(([, c]) => c.meterIds.join(','))],
  });
}

/** What one event burned (usage_event_credits). */
export interface EventCredits {
  credits: Dec;
  uncovered: Dec;
  meterIds: string[];
}

/**
 * Plans the prepaid credits the batch's events burn (issue 15, point 4): per
 * customer with a wallet, the credits each event costs at the burn rates in
 * effect at its timestamp (billing/credit-burn.ts eventMicroCredits: eventBurn
 * rounded to the ledger's 6 decimals, in integers), summed into one ledger transaction per wallet and
 * batch (key batch:<batch id>:<wallet id>: the same batch again burns
 * nothing), with a fixed number of statements whatever the number of wallets
 * (prisma/credit-ledger.ts prepareBurns). What a wallet cannot cover falls on
 * its last events (allocateUncovered, in timestamp order): those events'
 * shares are returned for rating to store (usage_event_credits), so a close
 * can bill them as overage; the rest are returned as covered. `write` writes the ledger transactions, in the caller's
 * transaction.
 */
export async function planBatchBurn(
  db: Queryable,
  ctx: BatchContext,
  rates: readonly BurnRate[],
  events: readonly RatedForBurn[],
  now = new Date(),
): Promise<BatchBurn> {
  const none: BatchBurn = { burned: 0, covered: new Set(), short: new Map(), walletsBurned: 0, alerts: [], topUps: [], write: async () => {} };
  if (events.length === 0) return none;
  const { rows: wallets } = await db.query<BurnWalletRow>({
    name: 'ingest-burn-wallets',
    text: `SELECT w.id, m.id AS customer_id, c.external_id, w.low_balance_threshold::text AS low_balance_threshold, w.auto_top_up_below::text AS auto_below,
                  w.auto_top_up_credits::text AS auto_credits, w.auto_top_up_price_per_credit::text AS auto_price, w.auto_top_up_currency AS auto_currency
             FROM customers AS m JOIN credit_wallets AS w ON w.customer_id = COALESCE(m.parent_customer_id, m.id) JOIN customers AS c ON c.id = w.customer_id
            WHERE m.id = ANY($1::uuid[]) AND m.organization_id = $2`,
    values: [[...new Set(events.map((e) => e.customerId))], ctx.organizationId],
  });
  if (wallets.length === 0) return none;
  const walletOf = new Map(wallets.map((w) => [w.customer_id, w.id]));
  const walletRows = new Map(wallets.map((w) => [w.id, w]));
  // Per wallet, the events that burn (their place in `events`) and what each burns, in millionths of a credit:
  // integers, not decimals, so a batch keeps no decimal per event while its ledger statements run.
  const byWallet = new Map<string, { at: number[]; micro: bigint[]; total: bigint }>();
  const commitsOf = new Map<string, { reservationId: string; eventId: string; credits: Dec }[]>();
  let burned = 0;
  events.forEach((e, i) => {
    const walletId = walletOf.get(e.customerId);
    if (!walletId) return;
    const micro = eventMicroCredits(rates, e);
    // (an event that burns nothing still settles its reservation: all of it goes back)
    if (e.reservationId) {
      const commits = commitsOf.get(walletId) ?? [];
      if (commits.length === 0) commitsOf.set(walletId, commits);
      commits.push({ reservationId: e.reservationId, eventId: e.id, credits: fromMicroCredits(micro) });
    }
    // An event that burns nothing (a rate of 0, or credits that round to 0) is invoiced in full: it is not marked covered.
    if (micro === 0n) return;
    burned++;
    const own = byWallet.get(walletId) ?? { at: [], micro: [], total: 0n };
    if (own.at.length === 0) byWallet.set(walletId, own);
    own.at.push(i);
    own.micro.push(micro);
    own.total += micro;
  });
  const burns = [...new Set([...byWallet.keys(), ...commitsOf.keys()])].map((walletId) => ({
    walletId,
    credits: fromMicroCredits(byWallet.get(walletId)?.total ?? 0n),
    key: `batch:${ctx.batchId}:${walletId}`,
    batchId: ctx.batchId,
    commits: commitsOf.get(walletId) ?? [],
  }));
  const prepared = await prepareBurns(pgRawDb(db), {
    organizationId: ctx.organizationId,
    createdBy: `${ctx.actor.type}:${ctx.actor.id}`,
    now,
    burns: burns.filter((b) => !b.credits.isZero() || b.commits.length > 0),
  });
  const covered = new Set<string>();
  const short = new Map<string, EventCredits>();
  for (const b of burns) {
    const own = byWallet.get(b.walletId);
    if (!own) continue;
    const result = prepared.results.get(b.key);
    if (!result || result.uncovered.isZero()) {
      // The wallet covered every event (the usual case): nothing to allocate.
      for (const i of own.at) covered.add(events[i]!.id);
      continue;
    }
    // What a reservation covered is covered; the wallet's uncovered credits fall on the rest, the last events first
    // (timestamp, then id).
    const order = own.at.map((at, k) => ({ e: events[at]!, credits: fromMicroCredits(own.micro[k]!) }));
    order.sort((x, y) => x.e.timestamp.getTime() - y.e.timestamp.getTime() || (x.e.id < y.e.id ? -1 : x.e.id > y.e.id ? 1 : 0));
    const uncovered = allocateUncovered(
      order.map(({ e, credits }) => credits.minus(result.fromReservations?.get(e.id) ?? dec(0))),
      result.uncovered,
    );
    order.forEach(({ e, credits }, k) => {
      if (uncovered[k]!.isZero()) covered.add(e.id);
      else short.set(e.id, { credits, uncovered: uncovered[k]!, meterIds: eventBurn(rates, { ...e, quantity: dec(e.quantity) }).meterIds });
    });
  }
  return {
    burned,
    covered,
    short,
    walletsBurned: [...prepared.results.values()].filter((r) => r.burned).length,
    alerts: creditAlerts(walletRows, burns, prepared.results),
    topUps: autoTopUps(walletRows, burns, prepared.results),
    write: prepared.write,
  };
}

/** What a batch's events burn (planBatchBurn), before its ledger transactions are written. */
export interface BatchBurn {
  /** how many of the events burn credits */
  burned: number;
  /** the events their wallet covered in full (rating marks them credits_covered) */
  covered: ReadonlySet<string>;
  /** the events their wallet could not cover in full, with what each burned (usage_event_credits) */
  short: ReadonlyMap<string, EventCredits>;
  walletsBurned: number;
  alerts: RaisedNotification[];
  topUps: AutoTopUp[];
  write: () => Promise<void>;
}

/** A wallet as the batch's burn reads it: its customer, alert threshold and automatic top-up. */
type BurnWalletRow = { id: string; customer_id: string; external_id: string; low_balance_threshold: string | null; auto_below: string | null; auto_credits: string | null; auto_price: string | null; auto_currency: string | null };

/** The automatic top-ups the batch's burns call for: wallets left below their auto_top_up_below (queueAutoTopUps keeps one per wallet). */
function autoTopUps(rows: ReadonlyMap<string, BurnWalletRow>, burns: readonly { walletId: string; key: string }[], results: ReadonlyMap<string, BurnResult>): AutoTopUp[] {
  return burns.flatMap((b) => {
    const auto = autoTopUpOf(rows.get(b.walletId)!);
    const after = results.get(b.key)?.wallet?.balanceAfter;
    if (!auto || after === undefined || !after.lt(auto.below)) return [];
    return [{ walletId: b.walletId, credits: auto.credits, pricePerCredit: auto.pricePerCredit, currency: auto.currency }];
  });
}

/** The balance alerts the batch's burns leave their wallets at (billing/credit-alerts.ts), one per wallet at most. */
function creditAlerts(
  rows: ReadonlyMap<string, BurnWalletRow>,
  burns: readonly { walletId: string; key: string; credits: Dec }[],
  results: ReadonlyMap<string, BurnResult>,
): RaisedNotification[] {
  return burns.flatMap((b) => {
    const wallet = results.get(b.key)?.wallet;
    const row = rows.get(b.walletId)!;
    if (!wallet) return [];
    const threshold = row.low_balance_threshold === null ? null : dec(row.low_balance_threshold);
    const level = creditAlertLevel({ after: wallet.balanceAfter, threshold });
    if (!level) return [];
    const payload = {
      customerExternalId: row.external_id,
      walletId: b.walletId,
      level,
      balance: toPlainString(wallet.balanceAfter),
      threshold: threshold === null ? null : toPlainString(threshold),
      burned: toPlainString(b.credits),
      uncovered: toPlainString(results.get(b.key)!.uncovered),
    };
    return [{ kind: `credits.${level}`, dedupeKey: creditAlertKey(level, b.walletId, wallet.newestGrantId), payload, entityType: 'credit_wallet', entityId: b.walletId }];
  });
}

/** The organization's rates for the vendor/model pairs the batch uses, all effective periods. */
async function loadRates(db: Queryable, organizationId: string, lines: TokenUsage[]): Promise<TokenRate[]> {
  const pairs = [...new Map(lines.map((l) => [`${l.vendor}\u0000${l.model}`, l])).values()];
  if (pairs.length === 0) return [];
  const { rows } = await db.query<{ id: string; vendor: string; model: string; currency: string; effective_from: Date; effective_to: Date | null } & Record<RatePriceName, string | null>>({
    name: 'ingest-load-rates',
    text: `SELECT r.id, r.vendor, r.model, r.currency, ${RATE_PRICES.map((p) => `r.${p.name}::text`).join(', ')},
                  r.effective_from, r.effective_to
             FROM vendor_rates AS r
             JOIN unnest($2::text[], $3::text[]) AS p(vendor, model) ON r.vendor = p.vendor AND r.model = p.model
            WHERE r.organization_id = $1`,
    values: [organizationId, pairs.map((p) => p.vendor), pairs.map((p) => p.model)],
  });
  return rows.map((row) => ({
    id: row.id,
    vendor: row.vendor,
    model: row.model,
    currency: row.currency,
    effectiveFrom: row.effective_from,
    effectiveTo: row.effective_to,
    // (::text keeps the stored digits; trailing zeros of the scale are harmless to decimal math)
    ...(Object.fromEntries(RATE_PRICES.map((p) => [p.key, row[p.name]])) as Required<RatePrices>),
  }));
}

/** One counter a batch touched: a limit, a customer and a window. */
interface TouchedCounter {
  limit: QuotaLimitRow;
  customerExternalId: string;
  eventType: string;
  windowStart: Date;
  windowEnd: Date | null;
  /** the batch's own usage in this counter's window */
  batchQuantity: Dec;
}

interface RefreshedCounter extends TouchedCounter {
  counterId: string;
  used: Dec;
  level: QuotaLevel | null;
}

const counterKey = (limitId: string, customerExternalId: string, windowStart: Date): string => `${limitId}\u0000${customerExternalId}\u0000${windowStart.toISOString()}`;

const HOUR_MS = 3_600_000;

/** The batch's quantity per customer, event type and UTC hour: what the SQL GROUP BY of touchedCounters gives, from the events read already. */
export function batchHours(events: readonly Pick<BatchEvent, 'customer_external_id' | 'event_type' | 'timestamp' | 'quantity'>[]): { customer_external_id: string; event_type: string; hour: Date; quantity: string }[] {
  const sums = new Map<string, { customer_external_id: string; event_type: string; hour: Date; quantity: Dec }>();
  for (const e of events) {
    const hour = Math.floor(e.timestamp.getTime() / HOUR_MS) * HOUR_MS;
    const key = `${e.customer_external_id}\u0000${e.event_type}\u0000${hour}`;
    const sum = sums.get(key);
    if (sum) sum.quantity = sum.quantity.plus(dec(e.quantity));
    else sums.set(key, { customer_external_id: e.customer_external_id, event_type: e.event_type, hour: new Date(hour), quantity: dec(e.quantity) });
  }
  return [...sums.values()].map((h) => ({ ...h, quantity: toPlainString(h.quantity) }));
}

/**
 * The (limit, customer, window) triples the batch's events fall into, under
 * the limit that applies to each customer and event type, with the batch's
 * quantity in each. Events are summed per UTC hour first — the finest reset
 * window — so a batch of 1,000 events usually yields a handful of rows.
 */
async function touchedCounters(db: Queryable, ctx: BatchContext, events: readonly BatchEvent[] | null): Promise<TouchedCounter[]> {
  const hours = events
    ? batchHours(events)
    : (
        await db.query<{ customer_external_id: string; event_type: string; hour: Date; quantity: string }>({
          name: 'ingest-batch-hours',
          text: `SELECT customer_external_id, event_type, date_trunc('hour', timestamp, 'UTC') AS hour, SUM(quantity)::text AS quantity
                   FROM usage_events
                  WHERE batch_id = ANY($1::uuid[]) AND organization_id = $2
                  GROUP BY 1, 2, 3`,
          values: [ctx.requestIds, ctx.organizationId],
        })
      ).rows;
  if (hours.length === 0) return [];
  const { rows: limits } = await db.query<QuotaLimitRow>({
    name: 'ingest-batch-limits',
    text: `SELECT ${LIMIT_COLUMNS} FROM quota_limits WHERE organization_id = $1 AND event_type = ANY($2::text[])`,
    values: [ctx.organizationId, [...new Set(hours.map((h) => h.event_type))]],
  });
  const touched = new Map<string, TouchedCounter>();
  for (const h of hours) {
    const limit = applicableLimit(limits, h.event_type, h.customer_external_id);
    if (!limit) continue;
    const window = quotaWindow(limit.resetWindow, h.hour);
    const key = counterKey(limit.id, h.customer_external_id, window.start);
    const seen = touched.get(key);
    if (seen) seen.batchQuantity = seen.batchQuantity.plus(dec(h.quantity));
    else touched.set(key, { limit, customerExternalId: h.customer_external_id, eventType: h.event_type, windowStart: window.start, windowEnd: window.end, batchQuantity: dec(h.quantity) });
  }
  return [...touched.values()];
}

/**
 * Adds the batch's usage to each SOFT counter it touched, exactly once, and
 * returns every touched counter's usage and level. HARD counters were
 * already counted by the API in the transaction that stored the events; here
 * they are only read.
 *
 * Exactly once: the (counter, batch) row in quota_counter_batches is claimed
 * in the same statement as the increment, so a retried step, a reset run, or
 * a batch counted by the older four-activity workflow and then reset onto
 * the one-transaction path finds the claim and adds nothing. This costs
 * O(batch), not a re-sum of the window.
 *
 * The counter rows are locked (FOR UPDATE) in natural-key order, the order
 * the API uses too; should a deadlock still happen, PostgreSQL aborts one
 * side and Temporal retries the activity.
 */
async function refreshCounters(db: Queryable, batchId: string, touched: TouchedCounter[]): Promise<RefreshedCounter[]> {
  const limitIds = touched.map((t) => t.limit.id);
  const customers = touched.map((t) => t.customerExternalId);
  const starts = touched.map((t) => t.windowStart.toISOString());
  await db.query({
    name: 'ingest-counters-create',
    text: `INSERT INTO quota_counters (id, quota_limit_id, customer_external_id, window_start, window_end, used, updated_at)
           SELECT gen_random_uuid(), k.limit_id, k.customer, k.window_start, k.window_end, 0, now()
             FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS k(limit_id, customer, window_start, window_end)
            ORDER BY 2, 3, 4
           ON CONFLICT (quota_limit_id, customer_external_id, window_start) DO NOTHING`,
    values: [limitIds, customers, starts, touched.map((t) => t.windowEnd?.toISOString() ?? null)],
  });
  const { rows } = await db.query<{ id: string; quota_limit_id: string; customer_external_id: string; window_start: Date; used: string }>({
    name: 'ingest-counters-add',
    text: `WITH k AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::numeric[], $5::boolean[]) AS k(limit_id, customer, window_start, quantity, soft)
           ), locked AS (
             SELECT q.id, q.quota_limit_id, q.customer_external_id, q.window_start, q.used, k.quantity, k.soft
               FROM quota_counters AS q
               JOIN k ON q.quota_limit_id = k.limit_id AND q.customer_external_id = k.customer AND q.window_start = k.window_start
              ORDER BY q.quota_limit_id, q.customer_external_id COLLATE "C", q.window_start
                FOR UPDATE OF q
           ), claimed AS (
             INSERT INTO quota_counter_batches (counter_id, batch_id, quantity)
             SELECT id, $6, quantity FROM locked WHERE soft
             ON CONFLICT (counter_id, batch_id) DO NOTHING
             RETURNING counter_id, quantity
           ), added AS (
             UPDATE quota_counters AS q
                SET used = q.used + a.quantity,
                    limit_reached_at = CASE WHEN q.used + a.quantity >= l.limit_value THEN COALESCE(q.limit_reached_at, now()) ELSE q.limit_reached_at END,
                    updated_at = now()
               FROM claimed AS a, quota_limits AS l
              WHERE q.id = a.counter_id AND l.id = q.quota_limit_id
             RETURNING q.id, q.used
           )
           SELECT locked.id, locked.quota_limit_id, locked.customer_external_id, locked.window_start, COALESCE(added.used, locked.used)::text AS used
             FROM locked LEFT JOIN added ON added.id = locked.id`,
    values: [limitIds, customers, starts, touched.map((t) => toPlainString(t.batchQuantity)), touched.map((t) => t.limit.mode === 'SOFT'), batchId],
  });
  const byKey = new Map(rows.map((c) => [counterKey(c.quota_limit_id, c.customer_external_id, c.window_start), c]));
  return touched.map((t): RefreshedCounter => {
    const key = counterKey(t.limit.id, t.customerExternalId, t.windowStart);
    const row = byKey.get(key);
    if (!row) throw new Error(`quota counter ${key} vanished inside its transaction`);
    const used = dec(row.used);
    return { ...t, counterId: row.id, used, level: quotaLevel({ limit: t.limit.limitValue, softWarningPercent: t.limit.softWarningPercent }, used) };
  });
}

const quotaDedupeKey = (limitId: string, customerExternalId: string, windowStart: Date, level: QuotaLevel): string =>
  `quota:${limitId}:${customerExternalId}:${windowStart.toISOString()}:${level}`;

/** The notifications for counters at a level (quota.warning, quota.exceeded). */
function quotaNotifications(counters: RefreshedCounter[]): RaisedNotification[] {
  return counters.flatMap((c) => {
    if (!c.level) return [];
    const payload = {
      limitId: c.limit.id,
      mode: c.limit.mode,
      eventType: c.eventType,
      customerExternalId: c.customerExternalId,
      level: c.level,
      limit: toPlainString(dec(c.limit.limitValue)),
      used: toPlainString(c.used),
      softWarningPercent: c.limit.softWarningPercent,
      windowStart: c.windowStart.toISOString(),
      windowEnd: c.windowEnd?.toISOString() ?? null,
    };
    return [{ kind: `quota.${c.level}`, dedupeKey: quotaDedupeKey(c.limit.id, c.customerExternalId, c.windowStart, c.level), payload, entityType: 'quota_counter', entityId: c.counterId }];
  });
}

export interface CountQuotasResult {
  countersUpdated: number;
  notificationsCreated: number;
}

/**
 * Brings every quota counter the batch touched up to date and raises one
 * notification per customer, limit, window and level crossed — for SOFT
 * limits, and for HARD ones nearing or at their limit too. Reaching
 * `exceeded` in one step skips the warning: the higher level says more.
 */
export async function countQuotas(db: Queryable, ctx: BatchContext, events: readonly BatchEvent[] | null = null): Promise<CountQuotasResult> {
  const touched = await touchedCounters(db, ctx, events);
  if (touched.length === 0) return { countersUpdated: 0, notificationsCreated: 0 };
  const refreshed = await refreshCounters(db, ctx.batchId, touched);
  return { countersUpdated: touched.length, notificationsCreated: await raiseNotifications(db, { ...ctx, source: { batchId: ctx.batchId } }, quotaNotifications(refreshed)) };
}

/** The organization's notifications still waiting for delivery, from this batch or earlier ones. */
export async function pendingNotifications(db: Queryable, organizationId: string): Promise<number> {
  const { rows } = await db.query<{ pending: number }>({
    name: 'ingest-pending-notifications',
    text: 'SELECT count(*)::int AS pending FROM notifications WHERE organization_id = $1 AND delivered_at IS NULL',
    values: [organizationId],
  });
  return rows[0]?.pending ?? 0;
}

/**
 * Marks the processing batch processed and audits it — only on the actual
 * transition, so a retry or a reset run writes no second audit row. A batch
 * the sweeper marked `failed` (its workflow was terminated) is processed by
 * a reset or a new run like any other. A batch
 * whose workflow was started but never recorded (the batcher died right
 * after the start) also gets its workflow and run id here. The batcher hears
 * of it (NOTIFY on commit): a batch slot of the organization is free again.
 */
/**
 * Locks the processing batch's row for the rest of the transaction and says
 * whether it still needs processing: a retry or a reset of a processed batch
 * then does no work at all.
 */
export async function lockUnprocessed(db: Queryable, ctx: Pick<BatchContext, 'batchId' | 'organizationId'>): Promise<boolean> {
  const { rows } = await db.query<{ status: string }>({
    name: 'ingest-lock-batch',
    text: 'SELECT status::text FROM processing_batches WHERE id = $1 AND organization_id = $2 FOR UPDATE',
    values: [ctx.batchId, ctx.organizationId],
  });
  return rows[0] !== undefined && rows[0].status !== 'processed';
}

export async function markProcessed(db: Queryable, ctx: Pick<BatchContext, 'batchId' | 'organizationId' | 'actor'>, ratedEvents: number | null = null): Promise<boolean> {
  // processBatch knows how many of the batch's events are rated (its read and its rating's UPDATE); the older
  // one-step-per-activity workflows count them here.
  const rated = ratedEvents === null ? `(SELECT count(*)::int FROM usage_events WHERE batch_id = ANY(b.request_ids) AND organization_id = b.organization_id AND status = 'rated')` : '$5::int';
  const { rows } = await db.query<{ previous_status: string; rated: number; requests: number }>({
    name: ratedEvents === null ? 'ingest-mark-processed' : 'ingest-mark-processed-counted',
    text: `WITH previous AS (
             SELECT id, status FROM processing_batches
              WHERE id = $1 AND organization_id = $2 AND status IN ('accepted', 'workflow_started', 'failed')
                FOR UPDATE
           )
           UPDATE processing_batches AS b
              SET status = 'processed', processed_at = now(),
                  workflow_id = COALESCE(b.workflow_id, $3), run_id = COALESCE(b.run_id, $4)
             FROM previous
            WHERE b.id = previous.id
           RETURNING previous.status::text AS previous_status, b.requests, ${rated} AS rated`,
    values: [ctx.batchId, ctx.organizationId, ctx.actor.id, ctx.actor.type === 'workflow' ? ctx.actor.runId : null, ...(ratedEvents === null ? [] : [ratedEvents])],
  });
  const row = rows[0];
  if (!row) return false;
  await insertAuditRows(db, [
    {
      organizationId: ctx.organizationId,
      actor: ctx.actor,
      action: 'batch.processed',
      entityType: 'processing_batch',
      entityId: ctx.batchId,
      before: { status: row.previous_status },
      after: { status: 'processed', requests: row.requests, ratedEvents: row.rated },
    },
  ]);
  await db.query({ name: 'ingest-notify-processed', text: `SELECT pg_notify('${INGEST_CHANNEL}', $1)`, values: [`${ctx.organizationId}:0`] });
  return true;
}
