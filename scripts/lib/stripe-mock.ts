import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { freePort } from '../../temporal/dev-server';
import { goBinDir, goInstall, isExecutable, whichSync } from '../../temporal/go-tools';

/** The stripe-mock release the Stripe tests run against. */
export const STRIPE_MOCK_VERSION = '0.197.0';
const GO_PACKAGE = `github.com/stripe/stripe-mock@v${STRIPE_MOCK_VERSION}`;

/**
 * Finds stripe-mock ($STRIPE_MOCK_PATH, PATH, the Go bin directory) or
 * installs the pinned version with `go install` (CI machines start clean;
 * Go modules are reachable where GitHub release downloads are not).
 */
export async function findOrInstallStripeMock(progress: (line: string) => void = () => undefined): Promise<string> {
  const fromEnv = process.env.STRIPE_MOCK_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`STRIPE_MOCK_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const onPath = whichSync('stripe-mock');
  if (onPath) return onPath;
  const gobin = goBinDir();
  if (!gobin) throw new Error(`stripe-mock not found and no Go toolchain to build it: install Go, or run \`go install ${GO_PACKAGE}\`, or set STRIPE_MOCK_PATH`);
  const built = path.join(gobin, 'stripe-mock');
  if (isExecutable(built)) return built;
  progress(`Building stripe-mock v${STRIPE_MOCK_VERSION} from Go modules (first run only)…`);
  await goInstall(GO_PACKAGE, 'stripe-mock', progress);
  if (!isExecutable(built)) throw new Error(`go install finished but ${built} is missing`);
  progress(`stripe-mock built: ${built}`);
  return built;
}

export interface StripeMockHandle {
  port: number;
  stop(): Promise<void>;
}

/** Starts stripe-mock on a free loopback port and waits until it answers. */
export async function startStripeMock(progress?: (line: string) => void): Promise<StripeMockHandle> {
  const executable = await findOrInstallStripeMock(progress);
  const port = await freePort();
  // -http-addr alone still opens HTTPS on the fixed port 12112 (stripe-mock only turns that default off for
  // -http/-http-port), which collides with any other stripe-mock: give HTTPS a system-chosen loopback port.
  const child = spawn(executable, ['-http-addr', `127.0.0.1:${port}`, '-https-addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const collect = (chunk: Buffer): void => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    output.splice(0, Math.max(0, output.length - 30));
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  try {
    await waitUntilAnswering(port, child, output);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { port, stop: () => stopChild(child) };
}

async function waitUntilAnswering(port: number, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`stripe-mock exited during start (code ${child.exitCode}):\n${output.join('\n')}`);
    if (await answers(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`stripe-mock did not answer on port ${port} within 30s:\n${output.join('\n')}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v1/customers', headers: { Authorization: 'Bearer sk_test_ledgerflow' } }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });
}
