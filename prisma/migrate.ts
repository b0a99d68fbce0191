import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** Applies every pending migration (`prisma migrate deploy`), engine-free. */
export function applyMigrations(databaseUrl: string, log: (line: string) => void = () => undefined): void {
  const cli = path.join(__dirname, 'prisma-cli.mjs');
  const result = spawnSync(process.execPath, [cli, 'migrate', 'deploy'], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0) throw new Error(`prisma migrate deploy failed:\n${output}`);
  const applied = output.split('\n').filter((l) => /migrations? (have been|has been)|No pending migrations/i.test(l));
  for (const line of applied) log(line.trim());
}
