import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Finding and building Go tools (the Temporal CLI, stripe-mock): Go modules
 * are reachable from our machines where GitHub release downloads are not.
 */
export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `name` on PATH, or null. */
export function whichSync(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** Where `go install` puts binaries ($GOBIN, else the first $GOPATH's bin), or null without Go. */
export function goBinDir(): string | null {
  const go = whichSync('go');
  if (!go) return null;
  const result = spawnSync(go, ['env', 'GOBIN', 'GOPATH'], { encoding: 'utf8' });
  if (result.status !== 0) return null;
  const [gobin, gopath] = result.stdout.split('\n');
  if (gobin) return gobin;
  return gopath ? path.join(gopath.split(path.delimiter)[0]!, 'bin') : null;
}

/**
 * `CGO_ENABLED=0 go install <pkg>`, with a progress line every 15 s (first
 * builds take minutes). Rejects with the last lines of Go's output.
 */
export function goInstall(goPackage: string, label: string, progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', ['install', goPackage], { env: { ...process.env, CGO_ENABLED: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
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
      progress(`  …still building ${label} (${secs}s, ${downloads} modules downloaded)`);
    }, 15_000);
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(new Error(`go install failed to start: ${err.message}`));
    });
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new Error(`go install ${goPackage} exited with ${code}:\n${tail.join('\n')}`));
    });
  });
}
