import { ensureVenv, venvExecutable, type PythonVenv } from './python-venv';

/**
 * Schemathesis (PyPI), which fuzzes the API against its OpenAPI document (test/api-fuzz.test.ts, configured by
 * schemathesis.toml). `npm run setup` installs the pinned version (scripts/lib/python-venv.ts);
 * SCHEMATHESIS_PATH points at another executable.
 */
export const SCHEMATHESIS_VERSION = '4.32.5';

const SCHEMATHESIS: PythonVenv = { name: 'schemathesis', tag: SCHEMATHESIS_VERSION, requirements: [`schemathesis==${SCHEMATHESIS_VERSION}`] };

/** The executable to run, if one is installed (or SCHEMATHESIS_PATH names one). */
export function installedSchemathesis(): string | null {
  return process.env.SCHEMATHESIS_PATH || venvExecutable(SCHEMATHESIS, 'schemathesis');
}

/** Installs the pinned version unless it is there; throws PythonUnavailable saying what is missing. */
export function ensureSchemathesis(progress: (line: string) => void = () => undefined): { path: string; installed: boolean } {
  const { installed } = ensureVenv(SCHEMATHESIS, progress);
  return { path: venvExecutable(SCHEMATHESIS, 'schemathesis')!, installed };
}
