/**
 * PostgreSQL NOTIFY channel of the ingest path. The API notifies
 * `<organizationId>:<events accepted>` when it commits events; the ingest
 * workflow notifies `<organizationId>:0` when it finishes a batch. The
 * worker's batcher (worker/batcher.ts) listens to both.
 */
export const INGEST_CHANNEL = 'ledgerflow_ingest';
