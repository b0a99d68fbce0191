import { createReservation, getReservation, releaseReservationNow, ReservationCreateSchema, ReservationIdParamsSchema, ReservationSchema } from '../../services/credit-reservations';
import { answer, route, type RouteTable } from '../route-table';
import { apiKeyActor } from './catalog-common';

const notFound = { '404': 'No such reservation in your organization' };

/** Holds on prepaid credits before an expensive call (services/credit-reservations.ts). */
export const creditReservationRoutes: RouteTable = {
  mount: '/credits',
  routes: [
    route({
      method: 'post',
      path: '/reservations',
      summary: "Hold credits of a customer's wallet before an expensive call",
      description:
        'Holds `credits`, or what `quantity` of `event_type` would burn at the rates in effect now, all or nothing, until the event sent with `reservation_id` commits what it used (the rest goes back), the app releases it, or `expires_in_seconds` passes (a Temporal timer, `credit-reservation:<id>`). Idempotent on idempotency_key.',
      body: ReservationCreateSchema,
      ok: { status: 201, description: 'Held', schema: ReservationSchema },
      alsoOk: { '200': { description: 'A reservation with this idempotency_key existed; returned as it stands', schema: ReservationSchema } },
      errors: {
        '404': 'No such customer in your organization',
        '409': 'INSUFFICIENT_CREDITS: the wallet cannot cover the credits asked for (details.balance, details.required); nothing is held',
        '503': 'Temporal did not take the expiry timer; the hold was given back, nothing is held',
      },
      handle: async (deps, { caller, body }) => {
        const { reservation, created } = await createReservation(deps, caller.organizationId, body, apiKeyActor(caller));
        return answer(created ? 201 : 200, reservation);
      },
    }),
    route({
      method: 'get',
      path: '/reservations/{id}',
      summary: 'A credit reservation and where it stands',
      params: ReservationIdParamsSchema,
      ok: { description: 'The reservation', schema: ReservationSchema },
      errors: notFound,
      handle: (deps, { caller, params }) => getReservation(deps.pgPool, caller.organizationId, params.id),
    }),
    route({
      method: 'post',
      path: '/reservations/{id}/release',
      summary: 'Give a held reservation back (the call was not made)',
      description: 'Every held credit goes back to the grant it came from. A repeat answers the same.',
      params: ReservationIdParamsSchema,
      ok: { description: 'Released', schema: ReservationSchema },
      errors: { ...notFound, '409': 'RESERVATION_SETTLED: an event committed it, or it expired' },
      handle: (deps, { caller, params }) => releaseReservationNow(deps.prisma, caller.organizationId, params.id, apiKeyActor(caller)),
    }),
  ],
};
