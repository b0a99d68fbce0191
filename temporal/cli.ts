import path from 'node:path';
import { goBinDir, goInstall, isExecutable, whichSync } from './go-tools';

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
  try {
    await goInstall(GO_PACKAGE, 'the Temporal CLI', progress);
  } catch (err) {
    throw new TemporalCliNotFound((err as Error).message);
  }
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

