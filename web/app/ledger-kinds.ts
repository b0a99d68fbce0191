/** The steps that write a wallet's ledger entries (credit_transactions.kind): the wallet page's filter. Shared by the page and its server code. */
export const LEDGER_KINDS = ['grant', 'burn', 'expiry', 'reserve', 'settle'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];
