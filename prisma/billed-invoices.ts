import { NOT_BILLED_STATUSES } from '../billing/invoice-status';
import { Prisma } from './generated/client';

/*
 * Which invoices count as billed: not rejected, written off or void, and not
 * replaced by a later revision of their period (`superseded_by_id`: a
 * re-draft, or a re-issue after a credit note in full). What late usage
 * subtracts, what leak detection takes as invoiced and what a recovery
 * invoice bills beside all read it from here.
 */

/** The invoices that count as billed, as a Prisma filter. */
export const BILLED_INVOICE = { status: { notIn: [...NOT_BILLED_STATUSES] }, supersededById: null } satisfies Prisma.InvoiceWhereInput;

/** The invoice row `alias` counts as billed, as SQL. */
export const billedInvoiceSql = (alias: string): Prisma.Sql =>
  Prisma.sql`(${Prisma.raw(alias)}.status <> ALL(${[...NOT_BILLED_STATUSES]}::invoice_status[]) AND ${Prisma.raw(alias)}.superseded_by_id IS NULL)`;
