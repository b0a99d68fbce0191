import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeWorkflowBundle } from '../../worker/interceptors';
import { startEmbeddedPostgres } from '../../prisma/embedded-postgres';
import { applyMigrations } from '../../prisma/migrate';
import { startDevServer, freePort } from '../../temporal/dev-server';
import { DEFAULT_NAMESPACE } from '../../temporal/names';

/**
 * Starts the real parts once for the whole integration run: an embedded
 * PostgreSQL with our migrations applied, and the Temporal CLI dev server
 * (in memory, headless). Workflow code is bundled once so each test worker
 * can start Temporal workers quickly. Tests read the addresses from env.
 */
export default async function globalSetup(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-test-'));
  // mkdtemp makes the directory 0700; run as root, PostgreSQL runs as the
  // "postgres" user embedded-postgres creates, which must reach its data dir.
  fs.chmodSync(root, 0o755);
  const log = (line: string): void => {
    process.stderr.write(`[harness] ${line}\n`);
  };

  const pgPort = await freePort();
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(root, 'postgres'), port: pgPort });
  applyMigrations(postgres.url);

  const temporal = await startDevServer({ namespace: DEFAULT_NAMESPACE, ui: false, log });

  const bundlePath = path.join(root, 'workflow-bundle.js');
  await writeWorkflowBundle(bundlePath, log);

  process.env.DATABASE_URL = postgres.url;
  process.env.TEMPORAL_ADDRESS = temporal.address;
  process.env.TEMPORAL_NAMESPACE = temporal.namespace;
  process.env.LEDGERFLOW_WORKFLOW_BUNDLE = bundlePath;
  // A fresh key per test run: secrets stored by one run mean nothing to the next.
  process.env.LEDGERFLOW_SECRET_KEY ??= randomBytes(32).toString('base64');
  (globalThis as Record<string, unknown>).__ledgerflowHarness = { postgres, temporal, root };
}
