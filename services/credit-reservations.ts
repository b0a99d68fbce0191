import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { z } from 'zod';
import 'zod-openapi';
import { eventBurn } from '../billing/credit-burn';
import { RESERVATION_DEFAULT_SECONDS, RESERVATION_MAX_SECONDS } from '../billing/credit-reservations';
import { dec, toPlainString, type Dec } from '../billing/decimal';
import { writeAudit, type AuditActor } from '../prisma/audit';
import { findCustomerByAnyId } from '../prisma/billing-reads';
import { loadBurnRates } from '../prisma/burn-rates';
import type { PrismaClient } from '../prisma/client';
import { ensureWallet, readReservation, releaseReservation, reservationByKey, reserveCredits, type ReservationRow } from '../prisma/credit-ledger';
import { pgRawDb } from '../prisma/raw-db';
import { creditReservationWorkflowId, startReservationExpiry } from '../temporal/credit-reservation';
import { propertiesAsText } from './credit-check';
import { DomainError } from './errors';
import { decimalInput } from './schemas/decimal';

/*
 * Credit reservations (issue 15, point 5): an app holds credits before an
 * expensive call (an AI completion whose cost it can bound), sends the
 * event that follows with the reservation's id, and the event's burn commits
 * what it used from the hold and gives the rest back. A reservation never
 * committed expires by itself on a workflow timer. Holds and settlements are
 * ledger transactions (prisma/credit-ledger.ts).
 */

const text = (description: string, example: string) => z.string().min(1).max(255).meta({ description, example });

export const ReservationCreateSchema = z
  .strictObject({
    customer_external_id: text('The customer whose wallet holds the credits', 'cust_42'),
    credits: decimalInput('Credits to hold; or give event_type and quantity to hold what they would burn')
      .refine((c) => dec(c).gt(0), { message: 'must be more than 0' })
      .optional(),
    event_type: text('Hold what this much usage would burn at the burn rates in effect now (with quantity and properties)', 'llm_call').optional(),
    quantity: decimalInput('With event_type: the most the call may use (e.g. its max_tokens)').optional(),
    properties: z.record(z.string(), z.unknown()).optional().meta({ description: "With event_type: the event's properties (a dimension value such as the model picks its rate)" }),
    expires_in_seconds: z
      .int()
      .min(1, 'must be at least 1 second')
      .max(RESERVATION_MAX_SECONDS, `must be at most ${RESERVATION_MAX_SECONDS} seconds (a day)`)
      .default(RESERVATION_DEFAULT_SECONDS)
      .meta({ description: 'How long the hold lasts unless an event commits it or it is released', example: 300 }),
    idempotency_key: text('A repeat with this key answers the first reservation', 'call-7f3a').optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.credits === undefined) === (body.event_type === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['credits'], message: 'give either credits, or event_type with quantity', input: body });
    }
    if (body.event_type !== undefined && body.quantity === undefined) ctx.addIssue({ code: 'custom', path: ['quantity'], message: 'is required with event_type', input: body });
    if (body.event_type === undefined && (body.quantity !== undefined || body.properties !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['event_type'], message: 'is required with quantity and properties', input: body });
    }
  });
export type ReservationCreate = z.output<typeof ReservationCreateSchema>;

export const ReservationSchema = z
  .object({
    id: z.uuid().meta({ description: 'Send it as reservation_id on the event that follows the call' }),
    customer_external_id: z.string(),
    credits: z.string().meta({ description: 'Credits held (decimal string)' }),
    status: z.enum(['held', 'committed', 'released', 'expired']).meta({ description: 'held until an event commits it, the app releases it, or expires_at passes' }),
    expires_at: z.string(),
    committed: z.string().nullable().meta({ description: 'committed: the credits the event used from the hold (what it used beyond it burned from the wallet)' }),
    event_id: z.uuid().nullable().meta({ description: 'committed: the event that committed it' }),
    settled_at: z.string().nullable(),
    idempotency_key: z.string(),
    workflow_id: z.string().meta({ description: 'The expiry timer in the Temporal UI: credit-reservation:<id>' }),
    created_at: z.string(),
  })
  .meta({ id: 'CreditReservation' });

export const ReservationIdParamsSchema = z.object({ id: z.uuid('must be a reservation id (a UUID)').meta({ description: 'The reservation' }) });

const reservationJson = (r: ReservationRow) => ({
  id: r.id,
  customer_external_id: r.customerExternalId,
  credits: toPlainString(r.credits),
  status: r.status,
  expires_at: r.expiresAt.toISOString(),
  committed: r.committed === null ? null : toPlainString(r.committed),
  event_id: r.eventId,
  settled_at: r.settledAt?.toISOString() ?? null,
  idempotency_key: r.idempotencyKey,
  workflow_id: creditReservationWorkflowId(r.id),
  created_at: r.createdAt.toISOString(),
});

/**
 * The request as sent, hashed (sha-256 of its fields in a fixed order, numbers as exact decimals, properties with
 * their keys sorted): what a repeat under the same idempotency key must match. Its expiry is in it; the moment it
 * was sent is not.
 */
export function reservationRequestHash(customerId: string, body: ReservationCreate): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
  const request = [
    customerId,
    body.credits === undefined ? null : toPlainString(dec(body.credits)),
    body.event_type ?? null,
    body.quantity === undefined ? null : toPlainString(dec(body.quantity)),
    sorted(body.properties ?? null),
    body.expires_in_seconds,
  ];
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}

/** The credits a reservation asks to hold: as sent, or what event_type × quantity burns at the rates in effect now. */
async function creditsToHold(pool: Pool, organizationId: string, body: ReservationCreate, now: Date): Promise<Dec> {
  if (body.credits !== undefined) return dec(body.credits);
  const [burning, dimensions] = await Promise.all([loadBurnRates(pool, organizationId), propertiesAsText(pool, body.properties)]);
  const credits = burning ? eventBurn(burning.rates, { eventType: body.event_type!, quantity: dec(body.quantity!), timestamp: now, dimensions }).credits : dec(0);
  if (credits.isZero()) throw new DomainError('invalid', 'VALIDATION_ERROR', `event_type: ${body.quantity} ${body.event_type} burns no credits at the burn rates in effect; there is nothing to hold`, 'event_type');
  return credits;
}

/**
 * Holds credits of a customer's wallet, all or nothing (409
 * INSUFFICIENT_CREDITS with the balance when it is short), and starts the
 * hold's expiry timer. Were Temporal not to take the timer, the hold is
 * given back at once and the request answers 503: nothing stays held
 * without a timer to end it. A repeat (same idempotency key, the same
 * request as sent: reservationRequestHash) answers the first hold, even when
 * the burn rates changed since; the key with another request is 409.
 */
export async function createReservation(
  deps: { prisma: PrismaClient; pgPool: Pool; temporal: Client; taskQueue: string },
  organizationId: string,
  body: ReservationCreate,
  actor: AuditActor,
  now = new Date(),
): Promise<{ reservation: ReturnType<typeof reservationJson>; created: boolean }> {
  const customer = await findCustomerByAnyId(deps.prisma, organizationId, body.customer_external_id);
  if (!customer) throw new DomainError('not_found', 'NOT_FOUND', `No customer ${body.customer_external_id}`, 'customer_external_id');
  const requestHash = reservationRequestHash(customer.id, body);
  const idempotencyKey = body.idempotency_key ?? randomUUID();
  // A repeat is answered with the first hold whatever the burn rates say now (an estimate's credits can differ).
  const earlier = body.idempotency_key === undefined ? null : await reservationByKey(deps.prisma, organizationId, idempotencyKey);
  const credits = earlier && earlier.requestHash === requestHash ? earlier.credits : await creditsToHold(deps.pgPool, organizationId, body, now);
  const createdBy = `${actor.type}:${actor.id}`;
  const held = await deps.prisma.$transaction(async (tx) => {
    const walletId = await ensureWallet(tx, organizationId, customer.id);
    const result = await reserveCredits(tx, {
      organizationId,
      walletId,
      id: randomUUID(),
      credits,
      expiresAt: new Date(now.getTime() + body.expires_in_seconds * 1000),
      idempotencyKey,
      requestHash,
      createdBy,
      now,
    });
    if ('otherTerms' in result) {
      const first = result.otherTerms;
      throw new DomainError(
        'conflict',
        'IDEMPOTENCY_KEY_REUSED',
        `idempotency_key: reservation ${first.id} was made with this key by another request (${toPlainString(first.credits)} credits of ${first.customerExternalId}); use a new key for a new hold`,
        'idempotency_key',
        { reservation_id: first.id },
      );
    }
    if ('insufficient' in result) {
      throw new DomainError('conflict', 'INSUFFICIENT_CREDITS', `credits: the wallet of ${customer.externalId} has ${toPlainString(result.insufficient)} credits to spend, less than the ${toPlainString(credits)} asked for; nothing is held`, 'credits', {
        balance: toPlainString(result.insufficient),
        required: toPlainString(credits),
      });
    }
    if (result.created) {
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'credits.reserved',
        entityType: 'credit_reservation',
        entityId: result.reservation.id,
        after: { customer: customer.externalId, credits: toPlainString(credits), expiresAt: result.reservation.expiresAt.toISOString() },
      });
    }
    return result;
  });
  const { reservation } = held;
  if (reservation.status === 'held') {
    try {
      await startReservationExpiry(deps.temporal, deps.taskQueue, { organizationId, reservationId: reservation.id, expiresAt: reservation.expiresAt.toISOString() });
    } catch (err) {
      // A repeat never gives back the hold the first request made (its caller may be spending it): the sweeper
      // starts the timer of a hold still held past its expiry.
      if (!held.created) throw new DomainError('unavailable', 'TEMPORAL_UNAVAILABLE', `reservation ${reservation.id} stands, but its expiry timer could not be confirmed (${(err as Error).message}). Try again`);
      await deps.prisma.$transaction((tx) => releaseReservation(tx, { organizationId, reservationId: reservation.id, outcome: 'released', now: new Date(), createdBy }));
      throw new DomainError('unavailable', 'TEMPORAL_UNAVAILABLE', `the hold could not get its expiry timer (${(err as Error).message}), so it was given back; nothing is held. Try again with a new idempotency_key (this one names the released hold)`);
    }
  }
  return { reservation: reservationJson(reservation), created: held.created };
}

export async function getReservation(pool: Pool, organizationId: string, id: string) {
  const found = await readReservation(pgRawDb(pool), organizationId, id);
  if (!found) throw new DomainError('not_found', 'NOT_FOUND', `No credit reservation ${id}`, 'id');
  return reservationJson(found);
}

/** Gives a held reservation back (the call was not made); repeating it answers the same. One committed or expired is 409. */
export async function releaseReservationNow(prisma: PrismaClient, organizationId: string, id: string, actor: AuditActor, now = new Date()) {
  const released = await prisma.$transaction(async (tx) => {
    const result = await releaseReservation(tx, { organizationId, reservationId: id, outcome: 'released', now, createdBy: `${actor.type}:${actor.id}` });
    if (result?.settled) {
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'credits.reservation_released',
        entityType: 'credit_reservation',
        entityId: id,
        after: { customer: result.reservation.customerExternalId, credits: toPlainString(result.reservation.credits) },
      });
    }
    return result;
  });
  if (!released) throw new DomainError('not_found', 'NOT_FOUND', `No credit reservation ${id}`, 'id');
  const { reservation } = released;
  if (reservation.status !== 'released') {
    throw new DomainError('conflict', 'RESERVATION_SETTLED', `reservation ${id} is ${reservation.status}${reservation.status === 'committed' ? ` by event ${reservation.eventId}` : ''}; there is nothing to release`, 'id', { status: reservation.status });
  }
  return reservationJson(reservation);
}
