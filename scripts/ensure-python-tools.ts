// Step 5 of `npm run setup`: the Python tools of the tests, from PyPI, each in its own virtual environment
// (scripts/lib/python-venv.ts): schemathesis for the API fuzz run (test/api-fuzz.test.ts), and pytest with the
// Python SDK's generator and wheel build (test/sdk-python.test.ts). Optional: without python3 with venv and pip,
// setup carries on and says which tests will be skipped.
import { PythonUnavailable } from './lib/python-venv';
import { ensureSchemathesis } from './lib/schemathesis';
import { ensureSdkPython } from './lib/sdk-python';

const say = (line: string): void => {
  process.stdout.write(`[setup] ${line}\n`);
};

try {
  const found = ensureSchemathesis(say);
  say(`schemathesis: ${found.path}${found.installed ? ' (installed now)' : ' (cached)'}`);
  const sdk = ensureSdkPython(say);
  say(`Python SDK tools (pytest, datamodel-code-generator, wheel): ${sdk.dir}${sdk.installed ? ' (installed now)' : ' (cached)'}`);
} catch (err) {
  if (!(err instanceof PythonUnavailable)) throw err;
  say(`Python tools not installed: ${err.message}.`);
  say('  The API fuzz run and the Python SDK tests will be skipped. Install python3 with venv and pip, then run `npm run setup` again.');
}
