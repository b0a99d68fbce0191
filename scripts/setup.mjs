#!/usr/bin/env node
// `npm run setup`: installs what Ledgerflow needs, and nothing twice.
//  1. npm ci when node_modules is missing or package-lock.json changed since
//     the last install (its postinstall runs `prisma generate`), falling back
//     to npm install when npm ci refuses the lock file;
//  2. the Temporal CLI (found, or built from Go modules), unless
//     TEMPORAL_ADDRESS points at an existing cluster;
//  3. Temporal's Java time-skipping test server from Maven Central, for tests
//     (optional: without Java or Maven it says which tests will be skipped).
//  4. stripe-mock for the Stripe tests (found, or built from Go modules;
//     optional: without Go it says the Stripe tests will fail).
//  5. Python tools from PyPI, each in a virtual environment: schemathesis for
//     the API fuzz run, pytest and the Python SDK's generator and wheel build
//     (optional: without python3 and pip it says those tests will be skipped).
//  6. the web app's production build (web/build), when it is missing or
//     older than its sources.
// Each step prints a line or two; a tool's own output (npm, vite) only when
// it fails, or with SETUP_VERBOSE=1.
// Plain Node with no dependencies: it runs before node_modules exists.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lockFile = path.join(root, 'package-lock.json');
const marker = path.join(root, 'node_modules', '.ledgerflow-install');

function say(line) {
  process.stdout.write(`[setup] ${line}\n`);
}

/**
 * Runs a command with its output kept back: a progress line every 15 s
 * while it runs, and its output only if it fails (or with SETUP_VERBOSE=1,
 * as it comes). Resolves with the exit status and the output.
 */
function runQuietly(label, command, args) {
  const verbose = process.env.SETUP_VERBOSE === '1';
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: verbose ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout?.on('data', (c) => chunks.push(c));
    child.stderr?.on('data', (c) => chunks.push(c));
    const timer = setInterval(() => say(`  …still ${label} (${Math.round((Date.now() - started) / 1000)}s)`), 15_000);
    const finish = (status) => {
      clearInterval(timer);
      resolve({ status, output: Buffer.concat(chunks).toString('utf8'), seconds: Math.round((Date.now() - started) / 1000) });
    };
    child.once('error', (err) => {
      chunks.push(Buffer.from(String(err)));
      finish(1);
    });
    child.once('exit', (code) => finish(code ?? 1));
  });
}

/** The last lines of a failed command's output, to see why. */
function printTail(output, lines = 40) {
  const tail = output.trimEnd().split('\n').slice(-lines);
  for (const line of tail) process.stdout.write(`  | ${line}\n`);
}

function lockHash() {
  return createHash('sha256').update(fs.readFileSync(lockFile)).digest('hex');
}

async function installDependencies() {
  const wanted = lockHash();
  const installed = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim() : null;
  if (installed === wanted) {
    say('Dependencies are up to date.');
    return;
  }
  say(
    fs.existsSync(path.join(root, 'node_modules'))
      ? 'package-lock.json changed since the last install: running npm ci…'
      : 'Installing dependencies (npm ci)…',
  );
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  let result = await runQuietly('installing dependencies', npm, ['ci', '--no-audit', '--no-fund']);
  if (result.status !== 0) {
    // npm ci refuses a lock file that names packages the registry cannot
    // serve, e.g. other platforms' optional binaries on a mirror that lacks
    // them. npm install installs the same locked versions and skips those.
    say(`npm ci failed (exit ${result.status}); retrying with npm install (same locked versions)…`);
    result = await runQuietly('installing dependencies', npm, ['install', '--no-audit', '--no-fund']);
    if (result.status !== 0) {
      say(`npm install failed (exit ${result.status}); its last lines:`);
      printTail(result.output);
      process.exit(result.status ?? 1);
    }
  }
  // npm install may have rewritten the lock file; remember what is installed now.
  fs.writeFileSync(marker, `${lockHash()}\n`);
  const added = /added (\d+) packages?/.exec(result.output)?.[1];
  say(`Dependencies installed${added ? ` (${added} packages)` : ''} in ${result.seconds}s.`);
}

function ensureTemporalCli() {
  if (process.env.TEMPORAL_ADDRESS) {
    say(`TEMPORAL_ADDRESS=${process.env.TEMPORAL_ADDRESS} is set: using that cluster, no Temporal CLI needed.`);
    return;
  }
  // temporal/cli.ts is TypeScript; tsx exists now that dependencies are installed.
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'ensure-temporal-cli.ts')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function ensureTestServer() {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'ensure-test-server.ts')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function ensurePythonTools() {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'ensure-python-tools.ts')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) say(`Python tools check exited with ${result.status}.`);
}

function ensureStripeMock() {
  // Only the tests need it (the harness would build it too); a missing Go
  // toolchain is reported, not fatal, so `npm start` still works.
  const script =
    "require('./scripts/lib/stripe-mock.ts').findOrInstallStripeMock((l) => console.log(`[setup] ${l}`))" +
    ".then((p) => console.log(`[setup] stripe-mock: ${p}`), (e) => { console.log(`[setup] stripe-mock unavailable, the Stripe tests will fail: ${e.message}`); })";
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--eval', script], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) say(`stripe-mock check exited with ${result.status}.`);
}

/** Newest modification time under dir (files only), skipping build output and dependencies. */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'build', '.react-router', 'generated', 'migrations'].includes(entry.name)) continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

async function buildWeb() {
  const built = path.join(root, 'web', 'build', 'server', 'index.js');
  // The server build bundles web/ and the repo modules it imports (billing/, temporal/, prisma/).
  const sources = ['web', 'billing', 'temporal', 'prisma'].map((d) => newestMtime(path.join(root, d)));
  const newestSource = Math.max(...sources, fs.statSync(lockFile).mtimeMs);
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newestSource) {
    say('Web app build is up to date.');
    return;
  }
  say('Building the web app (react-router build)…');
  const result = await runQuietly('building the web app', process.execPath, [path.join(root, 'node_modules', '@react-router', 'dev', 'bin.js'), 'build', 'web']);
  if (result.status !== 0) {
    say(`The web app build failed (exit ${result.status}); its last lines:`);
    printTail(result.output);
    process.exit(result.status ?? 1);
  }
  say(`Web app built in ${result.seconds}s.`);
}

await installDependencies();
ensureTemporalCli();
ensureStripeMock();
ensureTestServer();
ensurePythonTools();
await buildWeb();
