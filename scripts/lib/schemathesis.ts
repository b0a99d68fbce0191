import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Schemathesis (PyPI), which fuzzes the API against its OpenAPI document
 * (test/api-fuzz.test.ts, configured by schemathesis.toml). `npm run setup`
 * installs the pinned version into a virtual environment in a per-user cache,
 * kept across clones; SCHEMATHESIS_PATH points at another executable.
 */
export const SCHEMATHESIS_VERSION = '4.32.5';

export class SchemathesisUnavailable extends Error {}

/** `$XDG_CACHE_HOME/ledgerflow/schemathesis/<version>`, or under ~/.cache. */
function venvDir(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'ledgerflow', 'schemathesis', SCHEMATHESIS_VERSION);
}

const executableIn = (dir: string): string => path.join(dir, 'bin', 'schemathesis');

/** The executable to run, if one is installed (or SCHEMATHESIS_PATH names one). */
export function installedSchemathesis(): string | null {
  const candidate = process.env.SCHEMATHESIS_PATH || executableIn(venvDir());
  try {
    fs.accessSync(candidate, fs.constants.X_OK);
    return candidate;
  } catch {
    return null;
  }
}

/** Installs the pinned version with python3's venv and pip unless it is there; throws SchemathesisUnavailable saying what is missing. */
export function ensureSchemathesis(progress: (line: string) => void = () => undefined): { path: string; installed: boolean } {
  const found = installedSchemathesis();
  if (found) return { path: found, installed: false };
  if (spawnSync('python3', ['--version'], { stdio: 'ignore' }).status !== 0) throw new SchemathesisUnavailable('python3 is not installed');
  const dir = venvDir();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  progress(`Installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI into ${dir}…`);
  const venv = spawnSync('python3', ['-m', 'venv', dir], { encoding: 'utf8' });
  if (venv.status !== 0) throw new SchemathesisUnavailable(`python3 -m venv failed (Debian: apt-get install python3-venv): ${venv.stderr.trim()}`);
  const pip = spawnSync(path.join(dir, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`], { encoding: 'utf8' });
  if (pip.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new SchemathesisUnavailable(`pip install schemathesis==${SCHEMATHESIS_VERSION} failed: ${pip.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  return { path: executableIn(dir), installed: true };
}
