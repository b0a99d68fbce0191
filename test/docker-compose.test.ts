import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * Static checks of docker-compose.yml (there is no Docker engine in CI): every
 * environment variable the code reads is wired to each service that runs
 * that code, and every service has a healthcheck. Which code a service runs
 * is found by following relative imports from the files its command starts.
 */
const ROOT = path.resolve(__dirname, '..');
const SCANNED_DIRS = ['api', 'worker', 'temporal', 'prisma', 'activities', 'workflows', 'web', 'proxy', 'services'];

/**
 * Entry files that load code no import statement names: web/server.ts
 * requires React Router's build of web/app, so the web service runs every
 * module under web/app too.
 */
const BUNDLED: Record<string, string> = { 'web/server.ts': 'web/app' };

/** Variables the code reads that no compose service needs to set (dev-only or defaulted), and why. */
const NOT_WIRED: Record<string, string> = {
  PATH: 'set by the operating system; temporal/cli.ts searches it for a local Temporal CLI',
  TEMPORAL_CLI_PATH: 'locates the Temporal CLI for the local dev server; compose runs a Temporal cluster instead',
  TEMPORAL_UI_URL: 'only printed by `npm start` when it is pointed at an external cluster',
  PRISMA_QUERY_ENGINE_LIBRARY: 'optional override; prisma/prisma-cli.mjs defaults it so the engine-free CLI downloads nothing',
  PRISMA_SCHEMA_ENGINE_BINARY: 'optional override; prisma/prisma-cli.mjs defaults it so the engine-free CLI downloads nothing',
  LEDGERFLOW_WORKFLOW_BUNDLE: 'optional: a prebuilt workflow bundle; unset, the worker bundles at start (the compose image does)',
};

interface ComposeService {
  command?: string[] | string;
  ports?: string[];
  container_name?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: unknown; disable?: boolean };
}

const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
const services = compose.services;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!['generated', 'node_modules', 'build', '.react-router'].includes(entry.name)) out.push(...sourceFiles(full));
    } else if (/\.(ts|tsx|mts|mjs|js)$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) {
      out.push(full);
    }
  }
  return out;
}

/** `process.env.X`, `process.env['X']`, and `env.X` on an env object passed in (api/config.ts style). */
function envReads(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\])/g)) names.add((m[1] ?? m[2])!);
  return names;
}

function resolveImport(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, `${base}.mts`, `${base}.mjs`, `${base}.js`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** Every local file reachable from the entry files through relative imports (type-only imports excluded). */
function reachable(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = fs.readFileSync(file, 'utf8');
    const specs = [
      ...[...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
      ...[...source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
      ...[...source.matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
    ];
    for (const spec of specs) {
      const target = resolveImport(file, spec);
      if (target) queue.push(target);
    }
  }
  return seen;
}

/** The repository files a service's command runs (`node --import tsx <file>`, `node <file>`). */
function entryFiles(service: ComposeService): string[] {
  const command = Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? '');
  return [...command.matchAll(/([\w./-]+\.(?:ts|mjs|js))\b/g)].map((m) => path.join(ROOT, m[1]!)).filter((file) => !file.includes('node_modules'));
}

/** The entry files plus what they load without an import (BUNDLED). */
function runFiles(service: ComposeService): string[] {
  const entries = entryFiles(service).filter((f) => fs.existsSync(f));
  return [...entries, ...entries.flatMap((f) => (BUNDLED[rel(f)] ? sourceFiles(path.join(ROOT, BUNDLED[rel(f)]!)) : []))];
}

function environmentOf(service: ComposeService): Set<string> {
  const env = service.environment ?? {};
  return new Set(Array.isArray(env) ? env.map((e) => e.split('=')[0]!) : Object.keys(env));
}

const filesWithEnv = new Map<string, Set<string>>();
for (const dir of SCANNED_DIRS) {
  const full = path.join(ROOT, dir);
  if (!fs.existsSync(full)) continue;
  for (const file of sourceFiles(full)) {
    const names = envReads(fs.readFileSync(file, 'utf8'));
    if (names.size > 0) filesWithEnv.set(file, names);
  }
}
const rel = (file: string): string => path.relative(ROOT, file);
const codeServices = Object.entries(services).filter(([, s]) => entryFiles(s).length > 0);

describe('docker-compose.yml', () => {
  it('has the production services', () => {
    expect(Object.keys(services).sort()).toEqual(expect.arrayContaining(['api', 'postgres', 'proxy', 'temporal', 'temporal-ui', 'web', 'worker']));
  });

  it.each(Object.keys(services))('service %s has a healthcheck', (name) => {
    const healthcheck = services[name]!.healthcheck;
    expect(healthcheck?.disable).not.toBe(true);
    expect(healthcheck?.test).toBeDefined();
  });

  it.each(codeServices.map(([name]) => name))('service %s runs files that exist', (name) => {
    for (const file of entryFiles(services[name]!)) expect(fs.existsSync(file) ? rel(file) : `missing: ${rel(file)}`).toBe(rel(file));
  });

  it.each(codeServices.map(([name]) => name))('service %s is given every environment variable its code reads', (name) => {
    const service = services[name]!;
    const wired = environmentOf(service);
    const missing: string[] = [];
    for (const file of reachable(runFiles(service))) {
      for (const variable of filesWithEnv.get(file) ?? []) {
        if (!wired.has(variable) && !(variable in NOT_WIRED)) missing.push(`${variable} (read in ${rel(file)})`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('checks the web service against web/server.ts, what it imports, and the app it serves', () => {
    const files = [...reachable(runFiles(services.web!))].map(rel);
    expect(files).toEqual(expect.arrayContaining(['web/server.ts', 'web/sign-in-limit.ts', 'web/app/server/auth.server.ts', 'web/app/routes/login.tsx']));
  });

  it('wires every variable read in the service code to some service, or lists it as dev-only with a reason', () => {
    const wiredAnywhere = new Set(Object.values(services).flatMap((s) => [...environmentOf(s)]));
    const unwired: string[] = [];
    for (const [file, names] of filesWithEnv) {
      for (const variable of names) if (!wiredAnywhere.has(variable) && !(variable in NOT_WIRED)) unwired.push(`${variable} (read in ${rel(file)})`);
    }
    expect(unwired).toEqual([]);
  });

  it('waits for healthy dependencies before starting the API, the worker, the web app and the proxy', () => {
    for (const name of ['api', 'worker', 'web', 'proxy']) {
      const dependsOn = (services[name] as { depends_on?: Record<string, { condition?: string }> }).depends_on ?? {};
      // the proxy talks to the API only (and reads its upstreams from PostgreSQL, which the API waits for)
      expect(Object.keys(dependsOn)).toContain(name === 'proxy' ? 'api' : 'temporal');
      for (const dep of Object.values(dependsOn)) expect(dep.condition).toBe('service_healthy');
    }
  });

  it('lets the API and the worker run as several replicas (docker compose up --scale api=2 --scale worker=2)', () => {
    for (const name of ['api', 'worker']) {
      const service = services[name]!;
      // A fixed container name or host port would stop a second replica from starting.
      expect(service.container_name).toBeUndefined();
      for (const mapping of service.ports ?? []) expect(mapping).toMatch(/^\d+-\d+:\d+$/);
      // Replicas of the API divide the rate limits among themselves.
      if (name === 'api') expect((service.environment as Record<string, unknown>).API_INSTANCE_GROUP).toBeTruthy();
    }
  });
});
