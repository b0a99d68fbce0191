// Step 2 of `npm run setup`: find the Temporal CLI, or build the pinned
// version from Go modules, printing progress while Go works (minutes, once).
import { cliNotFoundMessage, findOrBuildTemporalCli, TemporalCliNotFound, TEMPORAL_CLI_VERSION } from '../temporal/cli';

async function main(): Promise<void> {
  const say = (line: string): void => {
    process.stdout.write(`[setup] ${line}\n`);
  };
  try {
    const cli = await findOrBuildTemporalCli(say);
    if (cli) say(`Temporal CLI: ${cli.path} (from ${cli.source})`);
    else say(`No Temporal CLI and no Go toolchain: npm start will let the Temporal SDK download CLI v${TEMPORAL_CLI_VERSION} (needs internet).`);
  } catch (err) {
    if (!(err instanceof TemporalCliNotFound)) throw err;
    process.stderr.write(`${cliNotFoundMessage(err.message)}\n`);
    process.exit(1);
  }
}

void main();
