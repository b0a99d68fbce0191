import path from 'node:path';

/** Where `npm start` keeps local state; reused across starts (git-ignored). */
export const ROOT = path.resolve(__dirname, '..', '..');
export const DATA_DIR = path.join(ROOT, '.data');
export const PG_DATA_DIR = path.join(DATA_DIR, 'postgres');
export const TEMPORAL_DB_FILE = path.join(DATA_DIR, 'temporal.db');
/** Plaintext of the demo API key: local development only, mode 0600. */
export const DEMO_KEY_FILE = path.join(DATA_DIR, 'demo-api-key');
/** LEDGERFLOW_SECRET_KEY of the local stack (seals organizations' channel secrets): made once, mode 0600. */
export const SECRET_KEY_FILE = path.join(DATA_DIR, 'secret-key');
/** Pids and URLs of the running stack, read by the benchmark. */
export const STACK_FILE = path.join(DATA_DIR, 'stack.json');

export const DEFAULT_PG_PORT = 5433;
