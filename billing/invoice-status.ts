// Pure (no process or I/O): workflow code imports these too.

/** Where an invoice stands, as the database stores it (prisma/schema.prisma `InvoiceStatus`). */
export const INVOICE_STATUSES = ['draft', 'approved', 'rejected', 'finalized', 'paid', 'uncollectible', 'written_off', 'void'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

/**
 * Invoices that bill nothing: a rejected draft or a voided invoice (each
 * waiting for its period to be re-drafted or written off) and a period
 * written off. Their lines never count as billed:
 * not in what a later late-usage line subtracts, not in leak detection's
 * "what was invoiced", not in margins or revenue. An invoice replaced by a
 * later revision of its period bills nothing either, whatever its status
 * (prisma/billed-invoices.ts).
 */
export const NOT_BILLED_STATUSES = ['rejected', 'written_off', 'void'] as const satisfies readonly InvoiceStatus[];

/** Invoices whose period waits for finance to re-draft it (a corrected invoice) or write it off. */
export const AWAITING_REDRAFT_STATUSES = ['rejected', 'void'] as const satisfies readonly InvoiceStatus[];
export const awaitsRedraft = (status: InvoiceStatus): boolean => (AWAITING_REDRAFT_STATUSES as readonly InvoiceStatus[]).includes(status);
