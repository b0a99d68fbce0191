import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The Temporal CLI release Ledgerflow is tested with. */
export const TEMPORAL_CLI_VERSION = '1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;

export type CliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'go-build';
export interface FoundCli {
  path: string;
  source: CliSource;
}

export class TemporalCliNotFound extends Error {}

/**
 * Finds the Temporal CLI, in this order: $TEMPORAL_CLI_PATH, `temporal` on
 * PATH, the Go build cache ($(go env GOPATH)/bin), and finally a fresh Go build
 * of the pinned version. Returns null when none of them works; the caller may
 * then fall back to the SDK's own download (which needs internet).
 */
export async function findOrBuildTemporalCli(progress: (line: string) => void = () => undefined): Promise<FoundCli | null> {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new TemporalCliNotFound(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return { path: fromEnv, source: 'TEMPORAL_CLI_PATH' };
  }
  const onPath = whichSync('temporal');
  if (onPath) return { path: onPath, source: 'PATH' };

  const gobin = goBinDir();
  if (!gobin) return null;
  const cached = path.join(gobin, 'temporal');
  if (isExecutable(cached)) return { path: cached, source: 'go-build' };

  progress(`Building the Temporal CLI v${TEMPORAL_CLI_VERSION} from Go modules (first run only, takes a few minutes)…`);
  await goInstall(progress);
  if (!isExecutable(cached)) throw new TemporalCliNotFound(`go install finished but ${cached} is missing`);
  progress(`Temporal CLI built: ${cached}`);
  return { path: cached, source: 'go-build' };
}

export function cliNotFoundMessage(detail: string): string {
  return [
    `Could not find or build the Temporal CLI (${detail}). Any one of these fixes it:`,
    `  - set TEMPORAL_CLI_PATH to a temporal executable (v${TEMPORAL_CLI_VERSION} is tested)`,
    '  - put `temporal` on PATH',
    `  - install Go and run: CGO_ENABLED=0 go install ${GO_PACKAGE}`,
    '  - allow internet access so the Temporal SDK can download the CLI itself',
    '  - or set TEMPORAL_ADDRESS to an existing Temporal cluster (nothing is started then)',
  ].join('\n');
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function whichSync(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function goBinDir(): string | null {
  const go = whichSync('go');
  if (!go) return null;
  const result = spawnSync(go, ['env', 'GOBIN', 'GOPATH'], { encoding: 'utf8' });
  if (result.status !== 0) return null;
  const [gobin, gopath] = result.stdout.split('\n');
  if (gobin) return gobin;
  return gopath ? path.join(gopath.split(path.delimiter)[0]!, 'bin') : null;
}

function goInstall(progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', ['install', GO_PACKAGE], {
      env: { ...process.env, CGO_ENABLED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = Date.now();
    let downloads = 0;
    const tail: string[] = [];
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        if (line.startsWith('go: downloading')) downloads++;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const ticker = setInterval(() => {
      const secs = Math.round((Date.now() - started) / 1000);
      progress(`  …still building the Temporal CLI (${secs}s, ${downloads} modules downloaded)`);
    }, 15_000);
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(new TemporalCliNotFound(`go install failed to start: ${err.message}`));
    });
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new TemporalCliNotFound(`go install exited with ${code}:\n${tail.join('\n')}`));
    });
  });
}
