import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Temporal's Java time-skipping test server, from Maven Central.
 *
 * The TypeScript SDK would download it from GitHub, which this project's
 * machines cannot reach, so `npm run setup` resolves the artifact and its
 * runtime classpath with Maven into a per-user cache (kept across clones, so
 * CI on a warm machine does no download) and writes a wrapper script that
 * `exec`s java: the SDK stops the server by signalling the process it
 * started, and an exec'd JVM is that process.
 */
export const TEST_SERVER_VERSION = '1.38.0';
const ARTIFACT = { groupId: 'io.temporal', artifactId: 'temporal-test-server', version: TEST_SERVER_VERSION };
const MAIN_CLASS = 'io.temporal.testserver.TestServer';

export class TestServerUnavailable extends Error {}

/** `$XDG_CACHE_HOME/ledgerflow/temporal-test-server/<version>`, or under ~/.cache. */
export function testServerDir(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'ledgerflow', 'temporal-test-server', TEST_SERVER_VERSION);
}

/** The executable to hand the SDK (`server.executable.path`); it takes the port as its argument. */
export function testServerWrapperPath(): string {
  return path.join(testServerDir(), 'temporal-test-server');
}

/** The wrapper, if a complete install exists: the wrapper and every jar it names. */
export function installedTestServer(): string | null {
  const dir = testServerDir();
  const wrapper = testServerWrapperPath();
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'installed.json'), 'utf8')) as { version?: string; jars?: string[] };
    if (manifest.version !== TEST_SERVER_VERSION || !Array.isArray(manifest.jars) || manifest.jars.length === 0) return null;
    if (!manifest.jars.every((jar) => fs.existsSync(path.join(dir, 'lib', jar)))) return null;
    fs.accessSync(wrapper, fs.constants.X_OK);
    return wrapper;
  } catch {
    return null;
  }
}

/** Which of the two tools the install and the server need is missing, if any. */
export function missingJavaTools(): string[] {
  return ['java', 'mvn'].filter((tool) => spawnSync(tool, ['-version'], { stdio: 'ignore' }).status !== 0);
}

/**
 * Returns the wrapper, resolving the server with Maven first when it is not
 * cached. Repeating it is a file check. Throws TestServerUnavailable when
 * Java or Maven is missing or Maven fails.
 */
export async function ensureTestServer(progress: (line: string) => void = () => undefined): Promise<{ path: string; downloaded: boolean }> {
  const cached = installedTestServer();
  if (cached) return { path: cached, downloaded: false };

  const missing = missingJavaTools();
  if (missing.length > 0) throw new TestServerUnavailable(`${missing.join(' and ')} not found on PATH`);

  const dir = testServerDir();
  const lib = path.join(dir, 'lib');
  fs.rmSync(lib, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'pom.xml'), pom());
  progress(`Resolving ${ARTIFACT.groupId}:${ARTIFACT.artifactId}:${ARTIFACT.version} and its runtime classpath from Maven Central…`);
  await runMaven(dir, ['-B', '-f', 'pom.xml', 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'], progress);

  const jars = fs.readdirSync(lib).filter((name) => name.endsWith('.jar')).sort();
  if (!jars.some((name) => name.startsWith(`${ARTIFACT.artifactId}-`))) {
    throw new TestServerUnavailable(`Maven finished but ${lib} holds no ${ARTIFACT.artifactId} jar`);
  }
  // The manifest is written last: a half-finished install is never taken for a cached one.
  const wrapper = testServerWrapperPath();
  fs.writeFileSync(wrapper, wrapperScript(lib), { mode: 0o755 });
  fs.chmodSync(wrapper, 0o755);
  fs.writeFileSync(path.join(dir, 'installed.json'), `${JSON.stringify({ version: TEST_SERVER_VERSION, jars }, null, 2)}\n`);
  return { path: wrapper, downloaded: true };
}

function pom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by Ledgerflow's npm run setup: only resolves the Temporal test server's runtime classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.ledgerflow.tools</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>${ARTIFACT.groupId}</groupId>
      <artifactId>${ARTIFACT.artifactId}</artifactId>
      <version>${ARTIFACT.version}</version>
    </dependency>
  </dependencies>
</project>
`;
}

function wrapperScript(lib: string): string {
  // Single-quoted for sh; the classpath wildcard is expanded by java, not the shell.
  const classpath = `'${path.join(lib, '*').replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/sh',
    `# Temporal time-skipping test server ${TEST_SERVER_VERSION}, written by npm run setup (scripts/lib/test-server.ts).`,
    '# Usage: temporal-test-server <port>. exec, so the process the SDK started is the JVM it later stops.',
    // Serial GC and a capped heap: a test server is small and the machines have two cores.
    `exec java -XX:+UseSerialGC -Xmx512m -cp ${classpath} ${MAIN_CLASS} "$@"`,
    '',
  ].join('\n');
}

function runMaven(cwd: string, args: string[], progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mvn', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const started = Date.now();
    let downloaded = 0;
    const tail: string[] = [];
    let pending = '';
    const onData = (chunk: Buffer): void => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (line.includes('Downloaded from')) downloaded++;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const ticker = setInterval(() => {
      const secs = Math.round((Date.now() - started) / 1000);
      progress(`  …Maven still resolving the test server (${secs}s, ${downloaded} files downloaded)`);
    }, 10_000);
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(new TestServerUnavailable(`mvn failed to start: ${err.message}`));
    });
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) {
        progress(`  Maven done (${Math.round((Date.now() - started) / 1000)}s, ${downloaded} files downloaded).`);
        resolve();
      } else reject(new TestServerUnavailable(`mvn exited with ${code}:\n${tail.join('\n')}`));
    });
  });
}
