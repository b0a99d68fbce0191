import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Python tools the tests need (schemathesis; pytest and the SDK's generator), each in a virtual environment of
 * its own in a per-user cache kept across clones: `$XDG_CACHE_HOME/ledgerflow/<name>/<tag>`, or under ~/.cache.
 * `npm run setup` makes them with python3's venv and pip from PyPI; a new tag (new pins) makes a new one.
 */
export interface PythonVenv {
  name: string;
  /** what tells one set of pins from another (a version, or a hash of the pins) */
  tag: string;
  /** pip requirements, pinned */
  requirements: readonly string[];
}

export class PythonUnavailable extends Error {}

export function venvDir(venv: PythonVenv): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'ledgerflow', venv.name, venv.tag);
}

/** An executable of the environment (bin/<name>), if the environment is installed. */
export function venvExecutable(venv: PythonVenv, name: string): string | null {
  const candidate = path.join(venvDir(venv), 'bin', name);
  try {
    fs.accessSync(path.join(venvDir(venv), '.complete'));
    fs.accessSync(candidate, fs.constants.X_OK);
    return candidate;
  } catch {
    return null;
  }
}

/** Installs the environment unless it is there; throws PythonUnavailable saying what is missing. */
export function ensureVenv(venv: PythonVenv, progress: (line: string) => void = () => undefined): { dir: string; installed: boolean } {
  const dir = venvDir(venv);
  if (fs.existsSync(path.join(dir, '.complete'))) return { dir, installed: false };
  if (spawnSync('python3', ['--version'], { stdio: 'ignore' }).status !== 0) throw new PythonUnavailable('python3 is not installed');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  progress(`Installing ${venv.requirements.join(', ')} from PyPI into ${dir}…`);
  const made = spawnSync('python3', ['-m', 'venv', dir], { encoding: 'utf8' });
  if (made.status !== 0) throw new PythonUnavailable(`python3 -m venv failed (Debian: apt-get install python3-venv): ${made.stderr.trim()}`);
  const pip = spawnSync(path.join(dir, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...venv.requirements], { encoding: 'utf8' });
  if (pip.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new PythonUnavailable(`pip install ${venv.requirements.join(' ')} failed: ${pip.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  fs.writeFileSync(path.join(dir, '.complete'), `${venv.requirements.join('\n')}\n`);
  return { dir, installed: true };
}
