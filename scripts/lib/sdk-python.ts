import { createHash } from 'node:crypto';
import path from 'node:path';
import { ensureVenv, venvExecutable, type PythonVenv } from './python-venv';

/**
 * The Python SDK's tools (packages/sdk-python): pytest (with the vendors' clients) for its tests, datamodel-code-generator for its models
 * (generated from the OpenAPI document by `npm run sdk:generate`), setuptools and wheel to build its wheel.
 * One virtual environment that `npm run setup` makes (scripts/lib/python-venv.ts).
 */
// openai and anthropic: the vendors' own Python clients, whose response objects and streams the SDK's tests meter.
const REQUIREMENTS = ['pytest==9.2.0', 'datamodel-code-generator==0.97.0', 'setuptools==84.2.1', 'wheel==0.48.0', 'openai==3.63.0', 'anthropic==2.17.0'] as const;

export const SDK_PYTHON_VENV: PythonVenv = {
  name: 'sdk-python',
  tag: createHash('sha256').update(REQUIREMENTS.join('\n')).digest('hex').slice(0, 12),
  requirements: REQUIREMENTS,
};

export const SDK_PYTHON_DIR = path.join(__dirname, '..', '..', 'packages', 'sdk-python');

/** The environment's python, if setup installed it. */
export function sdkPython(): string | null {
  return venvExecutable(SDK_PYTHON_VENV, 'python');
}

export function ensureSdkPython(progress: (line: string) => void): { dir: string; installed: boolean } {
  return ensureVenv(SDK_PYTHON_VENV, progress);
}


