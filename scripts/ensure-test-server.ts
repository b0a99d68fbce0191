// Step 3 of `npm run setup`: Temporal's Java time-skipping test server from
// Maven Central, for the tests that let a month pass in seconds. Optional:
// without Java or Maven setup carries on and says which tests will be skipped.
import { ensureTestServer, TestServerUnavailable } from './lib/test-server';

async function main(): Promise<void> {
  const say = (line: string): void => {
    process.stdout.write(`[setup] ${line}\n`);
  };
  try {
    const server = await ensureTestServer(say);
    say(`Temporal test server: ${server.path}${server.downloaded ? ' (installed now)' : ' (cached)'}`);
  } catch (err) {
    if (!(err instanceof TestServerUnavailable)) throw err;
    say(`Temporal time-skipping test server not installed: ${err.message}.`);
    say('  The time-skipping tests (those using test/harness/time-skipping.ts, e.g. test/time-skipping-env.test.ts) will be skipped.');
    say('  Install Java 17+ and Maven, then run `npm run setup` again to enable them.');
  }
}

void main();
