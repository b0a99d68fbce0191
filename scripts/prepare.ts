// Prepares a deployment before the API starts (docker-compose runs it):
// applies pending migrations and registers Ledgerflow's search attributes on
// the Temporal cluster at TEMPORAL_ADDRESS. Both steps are idempotent, so
// several API replicas may run it at once.
import { applyMigrations } from '../prisma/migrate';
import { databaseUrl } from '../prisma/client';
import { ensureTemporal } from '../temporal/dev-server';

async function main(): Promise<void> {
  if (!process.env.TEMPORAL_ADDRESS) throw new Error('TEMPORAL_ADDRESS is not set: prepare.ts configures an existing cluster (npm start runs the local stack)');
  console.log('[prepare] applying migrations…');
  applyMigrations(databaseUrl(), (line) => console.log(`[prepare] ${line}`));
  console.log(`[prepare] registering search attributes on ${process.env.TEMPORAL_ADDRESS}…`);
  await ensureTemporal();
  console.log('[prepare] done');
}

main().catch((err: unknown) => {
  console.error(`[prepare] failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
