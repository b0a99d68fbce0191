// Step 4 of `npm run setup`: schemathesis from PyPI, for the API fuzz run
// (test/api-fuzz.test.ts). Optional: without python3 and pip setup carries on
// and says which test will be skipped.
import { ensureSchemathesis, SchemathesisUnavailable } from './lib/schemathesis';

const say = (line: string): void => {
  process.stdout.write(`[setup] ${line}\n`);
};

try {
  const found = ensureSchemathesis(say);
  say(`schemathesis: ${found.path}${found.installed ? ' (installed now)' : ' (cached)'}`);
} catch (err) {
  if (!(err instanceof SchemathesisUnavailable)) throw err;
  say(`schemathesis not installed: ${err.message}.`);
  say('  The API fuzz run (test/api-fuzz.test.ts) will be skipped. Install python3 with venv and pip, then run `npm run setup` again.');
}
