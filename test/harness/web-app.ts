import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createUser, type UserRole } from '../../prisma/users';
import { testPrisma } from './fixtures';
import { skippedDescribe } from './skips';

/**
 * The web app for browser tests: the production build (rebuilt when a file
 * under web/app is newer than it), its Express server on a free port, and
 * Debian's Chromium driven by playwright-core. Each browser test file starts
 * its own server against the harness's PostgreSQL and Temporal.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..', '..');
const SERVER_BUILD = path.join(ROOT, 'web', 'build', 'server', 'index.js');
const BUILD_LOCK = path.join(ROOT, 'web', '.build-lock');
export const WEB_ARTIFACTS = path.join(ROOT, 'test-artifacts', 'web');

const skipReason = fs.existsSync(CHROMIUM) ? null : `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

/** `describe`, or `describe.skip` with a note on stderr when this machine has no Chromium. */
export function describeWithChromium(name: string): typeof describe {
  if (!skipReason) return describe;
  return skippedDescribe({ suite: name, reason: skipReason, enable: 'apt-get install -y --no-install-recommends chromium (as root), or set CHROMIUM_PATH' }) as typeof describe;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

function buildIsFresh(): boolean {
  if (!fs.existsSync(SERVER_BUILD)) return false;
  // The server build bundles what the app's server modules import too: services/, billing/, prisma/, temporal/.
  const bundled = ['web/app', 'web/public', 'services', 'billing', 'prisma', 'temporal'].map((dir) => newestMtime(path.join(ROOT, dir)));
  const sources = Math.max(...bundled, fs.statSync(path.join(ROOT, 'web', 'react-router.config.ts')).mtimeMs);
  return fs.statSync(SERVER_BUILD).mtimeMs >= sources;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The production build, made if missing or older than the app's sources
 * (`npm run setup` makes it too). Test files running in parallel take a
 * directory lock so only one of them builds; the others wait for it.
 */
export async function ensureWebBuild(): Promise<void> {
  for (;;) {
    if (buildIsFresh()) return;
    try {
      fs.mkdirSync(BUILD_LOCK);
    } catch {
      // Someone else is building; a lock older than 5 minutes is from a crashed run.
      const age = Date.now() - (fs.statSync(BUILD_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 300_000) fs.rmSync(BUILD_LOCK, { recursive: true, force: true });
      await sleep(500);
      continue;
    }
    try {
      if (buildIsFresh()) return;
      const built = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', '@react-router', 'dev', 'bin.js'), 'build', 'web'], { cwd: ROOT, encoding: 'utf8' });
      if (built.status !== 0) throw new Error(`web build failed:\n${built.stdout}${built.stderr}`);
      return;
    } finally {
      fs.rmSync(BUILD_LOCK, { recursive: true, force: true });
    }
  }
}

export interface WebServer {
  baseUrl: string;
  /** every line it printed so far, stdout and stderr */
  output(): string[];
  stop(): Promise<void>;
}

/** web/server.ts on a free port, resolved once it says it listens. */
export async function startWebServer(env: Record<string, string> = {}): Promise<WebServer> {
  await ensureWebBuild();
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'web', 'server.ts')], {
    cwd: ROOT,
    env: { ...process.env, WEB_PORT: String(port), WEB_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const onLine = (line: string): void => {
      output.push(line);
      if (line.includes('web listening on ')) resolve();
    };
    readline.createInterface({ input: child.stdout! }).on('line', onLine);
    readline.createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`web server exited (code ${code}):\n${output.join('\n')}`)));
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    output: () => [...output],
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A new browser context at phone width, signed in through the sign-in form
 * via `startPath` (which sends an anonymous visitor to /login?next=…), and
 * back on `startPath` afterwards.
 */
export async function signIn(browser: Browser, baseUrl: string, credentials: { email: string; password: string }, startPath = '/'): Promise<Page> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(startPath);
  await page.waitForURL(/\/login(\?|$)/);
  await page.getByLabel('Email').fill(credentials.email);
  await page.getByLabel('Password').fill(credentials.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === startPath);
  return page;
}

/** Signed in on `path`, with the page's scripts loaded, so forms submit through React Router as people's do. */
export async function signInReady(browser: Browser, baseUrl: string, credentials: { email: string; password: string }, path: string): Promise<Page> {
  const page = await signIn(browser, baseUrl, credentials, path);
  await page.waitForLoadState('networkidle');
  return page;
}

/** One user per role of `passwords` in the organization, `<role>-<org>@<domain>`; answers each role's email. */
export async function createRoleUsers<R extends UserRole>(organizationId: string, passwords: Record<R, string>, domain: string): Promise<Record<R, string>> {
  const emails = {} as Record<R, string>;
  for (const role of Object.keys(passwords) as R[]) {
    const user = await createUser(testPrisma(), { organizationId, email: `${role}-${organizationId.slice(0, 8)}@${domain}`, role, password: passwords[role] }, { type: 'system', id: 'test' });
    emails[role] = user.email;
  }
  return emails;
}

/** A full-page screenshot under test-artifacts/web/. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(WEB_ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(WEB_ARTIFACTS, `${name}.png`), fullPage: true });
}
