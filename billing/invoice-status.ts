// Pure (no process or I/O): workflow code imports these too.

/** Where an invoice stands, as the database stores it (prisma/schema.prisma `InvoiceStatus`). */
export const INVOICE_STATUSES = ['draft', 'approved', 'rejected', 'finalized', 'paid', 'uncollectible', 'written_off'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

/**
 * Invoices that bill nothing: a rejected draft (waiting to be re-drafted or
 * written off) and a period written off. Their lines never count as billed:
 * not in what a later late-usage line subtracts, not in leak detection's
 * "what was invoiced", not in margins or revenue.
 */
export const NOT_BILLED_STATUSES = ['rejected', 'written_off'] as const satisfies readonly InvoiceStatus[];

export const countsAsBilled = (status: InvoiceStatus): boolean => !(NOT_BILLED_STATUSES as readonly InvoiceStatus[]).includes(status);
