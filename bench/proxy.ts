// `npm run bench:proxy [-- --calls N --rounds R --concurrency C --first-token-ms F --jitter J --token-interval-ms I --tokens T]`:
// what the AI proxy adds to a call (issue 16, point 6), against calling the same upstream directly, in the same run:
// - latency: whole (not streamed) chat completions, request sent → last byte; target: the proxy adds ≤ 5 ms at p99;
// - time to first token: streamed chat completions, request sent → the first content delta; target ≤ 5 ms at p99.
// The upstream is the tests' fake of OpenAI (test/harness/fake-llm-upstream.ts) in its own process. By default it
// answers at a model's pace, faster than any hosted model: the first token after 50 ms ± 50 %, then 20 words 5 ms
// apart (a whole answer after about 145 ms). The spread matters: answers that all take the same time keep the 32
// callers in lockstep, sending 32 requests in the same millisecond every 145 ms, which no set of callers does for
// long. Each answer says how long the upstream meant to wait, and every figure is a call's time less that wait, so
// the spread does not hide a tail: what is compared is what the path (direct: client and upstream; proxied: the
// proxy too) took beyond the model. So 32 calls in flight are the load 32 callers of a model put on a proxy, and
// what the proxy adds is its own work: its authorization round trip to the API (key, entitlement check), the
// upstream connection, the pass-through, and the event it posts after each call. A customer's first call waits for
// that round trip; it is measured on its own (cold calls), each round is preceded by untimed calls, and the lanes
// start spread over one call's time. `--first-token-ms 0 --token-interval-ms 0` makes the upstream answer at
// once: then 32 calls in flight are as many calls per second as the two cores can serve, and the difference
// measures the queue of a saturated machine (a capacity figure; see BENCHMARKS.md).
// The proxy runs as its own process (proxy/main.ts, OUTBOUND_DEVELOPMENT=1 so it may reach the loopback upstream)
// against the API of the running stack (or one this benchmark starts, like `npm start`). Direct and proxied calls
// alternate round by round. Prints p50/p99 per mode, calls per second, the added p99s, and CPU milliseconds per
// call of each process. Never part of `npm test`; numbers go to BENCHMARKS.md. Loopback only.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createApiKey } from '../prisma/api-keys';
import { createPrismaClient } from '../prisma/client';
import { ROOT, SECRET_KEY_FILE } from '../scripts/lib/paths';
import { putProxyUpstream } from '../services/proxy-upstreams';
import { OPENAI_UPSTREAM_KEY } from '../test/harness/fake-llm-upstream';
import { cpuPerUnitMs, findProcess, readCpu } from './lib/proc-cpu';
import { acquireStack } from './lib/stack-session';
import { formatTable, percentile } from './lib/stats';

const TARGET_ADDED_MS = 5;
const say = (line: string): void => {
  process.stdout.write(`[bench] ${line}\n`);
};

interface Options {
  calls: number;
  rounds: number;
  concurrency: number;
  firstTokenMs: number;
  jitter: number;
  tokenIntervalMs: number;
  tokens: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string' },
      rounds: { type: 'string' },
      concurrency: { type: 'string' },
      'first-token-ms': { type: 'string' },
      jitter: { type: 'string' },
      'token-interval-ms': { type: 'string' },
      tokens: { type: 'string' },
    },
    strict: true,
  });
  const whole = (raw: string | undefined, fallback: number, name: string, min: number): number => {
    const value = Number(raw ?? fallback);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min} (got ${raw})`);
    return value;
  };
  const fraction = (raw: string | undefined, fallback: number, name: string): number => {
    const value = Number(raw ?? fallback);
    if (!Number.isFinite(value) || value < 0 || value > 1) throw new Error(`--${name} must be a number from 0 to 1 (got ${raw})`);
    return value;
  };
  return {
    calls: whole(values.calls, 2_000, 'calls', 1),
    rounds: whole(values.rounds, 3, 'rounds', 1),
    concurrency: whole(values.concurrency, 32, 'concurrency', 1),
    firstTokenMs: whole(values['first-token-ms'], 50, 'first-token-ms', 0),
    jitter: fraction(values.jitter, 0.5, 'jitter'),
    tokenIntervalMs: whole(values['token-interval-ms'], 5, 'token-interval-ms', 0),
    tokens: whole(values.tokens, 20, 'tokens', 2),
  };
}

/** A child process that prints one line when it is ready (its URL, or the proxy's "listening" line). */
const childOutput: string[] = [];

async function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.once('exit', () => childOutput.push(`[${name}] ${output.slice(-3000)}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => ready.test(l));
      if (line) {
        clearTimeout(timer);
        resolve({ child, line });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}):\n${output}`)));
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

/**
 * One chat completion: ms to the last byte, and to the first content delta when streamed; and how long of that the
 * paced upstream meant to wait (its x-fake-wait-ms: to the first word of a stream, to the end of a whole answer).
 */
function call(target: { url: URL; headers: Record<string, string> }, stream: boolean): Promise<{ totalMs: number; firstTokenMs: number | null; upstreamWaitMs: number }> {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }], ...(stream ? { stream: true } : {}) });
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstTokenMs: number | null = null;
    const req = http.request(
      { host: target.url.hostname, port: target.url.port, path: target.url.pathname, method: 'POST', agent, headers: { ...target.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          if (firstTokenMs === null && chunk.includes('"content":"Hello"')) firstTokenMs = performance.now() - started;
          if (res.statusCode !== 200 && text.length < 500) text += chunk.toString();
        });
        const upstreamWaitMs = Number(res.headers['x-fake-wait-ms'] ?? 0);
        res.on('end', () => (res.statusCode === 200 ? resolve({ totalMs: performance.now() - started, firstTokenMs, upstreamWaitMs }) : reject(new Error(`${target.url.href} answered ${res.statusCode}: ${text}`))));
        res.on('error', reject);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The keep-alive race (a kept-alive connection the server closed as it was reused): once more, as the proxy does.
      if (req.reusedSocket && err.code === 'ECONNRESET') {
        retried++;
        call(target, stream).then(resolve, reject);
      } else reject(err);
    });
    req.end(body);
  });
}
let retried = 0;

/**
 * `calls` calls over `concurrency` lanes, each lane sending its next call when its last one ended. The lanes
 * start spread over `spreadMs` (about one call's time), not in the same millisecond: a burst of every lane at
 * once is a moment no steady load has, and the first calls of a round would queue behind it.
 */
async function measure(target: { url: URL; headers: Record<string, string> }, stream: boolean, calls: number, concurrency: number, spreadMs = 0): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  const lane = async (index: number): Promise<void> => {
    if (spreadMs > 0) await new Promise((r) => setTimeout(r, (index * spreadMs) / concurrency));
    while (next < calls) {
      next++;
      const answer = await call(target, stream);
      // what the call took beyond the model's own time: the same subtraction for direct and proxied calls
      times.push((stream ? (answer.firstTokenMs ?? Number.NaN) : answer.totalMs) - answer.upstreamWaitMs);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => lane(index)));
  if (times.some(Number.isNaN)) throw new Error('a streamed answer carried no content delta');
  return times;
}

async function main(): Promise<void> {
  const { calls, rounds, concurrency, firstTokenMs, jitter, tokenIntervalMs, tokens } = options();
  const paced = firstTokenMs > 0 || tokenIntervalMs > 0;
  const pace = paced ? `the upstream answers at a model's pace: first token after ${firstTokenMs} ms ± ${jitter * 100} %, ${tokens} words ${tokenIntervalMs} ms apart` : 'the upstream answers at once';
  const session = await acquireStack(say, 'bench-proxy-stack');
  const { stack } = session;
  // The stack's key (npm start keeps it in .data/secret-key), so the proxy opens the vendor key sealed here.
  process.env.LEDGERFLOW_SECRET_KEY ||= fs.readFileSync(SECRET_KEY_FILE, 'utf8').trim();
  const children: ChildProcess[] = [];
  const prisma = createPrismaClient(stack.databaseUrl, { max: 2 });
  try {
    say(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    say(pace);
    // about one call's time: whole to its last word, streamed to its first token (the lanes' calls all last that long)
    const spreadMs = (stream: boolean) => (paced ? firstTokenMs + (stream ? 0 : (tokens - 1) * tokenIntervalMs) : 0);
    const paceArgs = ['--first-token-ms', String(firstTokenMs), '--jitter', String(jitter), '--token-interval-ms', String(tokenIntervalMs), '--tokens', String(tokens)];
    const upstream = await startChild('fake upstream', [path.join('bench', 'lib', 'fake-llm-server.ts'), ...paceArgs], process.env, /^http:\/\//);
    children.push(upstream.child);
    const upstreamUrl = upstream.line.trim();
    // The upstream setting goes in through the service (the API would refuse a loopback URL unless it too ran with OUTBOUND_DEVELOPMENT=1).
    const org = await prisma.organization.create({ data: { name: `bench-proxy-${randomUUID().slice(0, 8)}`, rateLimitPerSecond: 0 } });
    await putProxyUpstream(prisma, org.id, 'openai', { base_url: `${upstreamUrl}/v1`, api_key: OPENAI_UPSTREAM_KEY, event_type: 'llm.completion' }, { type: 'system', id: 'bench' });
    const key = (await createApiKey(prisma, org.id, 'bench proxy', { type: 'system', id: 'bench' }, ['proxy'])).key;

    const port = 3900 + Math.floor(Math.random() * 90);
    const proxy = await startChild(
      'proxy',
      ['proxy/main.ts'],
      { ...process.env, DATABASE_URL: stack.databaseUrl, LEDGERFLOW_API_URL: stack.api.url, PROXY_PORT: String(port), HOST: '127.0.0.1', OUTBOUND_DEVELOPMENT: '1', LOG_FORMAT: 'text' },
      /proxy listening on /,
    );
    children.push(proxy.child);
    const direct = { url: new URL(`${upstreamUrl}/v1/chat/completions`), headers: { authorization: `Bearer ${OPENAI_UPSTREAM_KEY}` } };
    const proxied = { url: new URL(`http://127.0.0.1:${port}/v1/chat/completions`), headers: { authorization: `Bearer ${key}`, 'x-ledgerflow-customer': 'bench-customer' } };
    const pids = {
      proxy: proxy.child.pid ?? null,
      upstream: upstream.child.pid ?? null,
      api: stack.api.pid,
      worker: stack.worker.pid,
      temporal: findProcess((argv) => /(^|\/)temporal$/.test(argv[0]!) && argv.includes('start-dev')),
      postgres: findProcess((argv) => /(^|\/)postgres$/.test(argv[0]!) && argv.includes('-D')),
      bench: process.pid,
    };

    say(`warm-up, not measured: ${Math.min(calls, 500)} calls each way`);
    for (const target of [direct, proxied]) for (const stream of [false, true]) await measure(target, stream, Math.min(calls, 500), concurrency, spreadMs(stream));

    const samples: Record<string, number[]> = { 'direct whole': [], 'proxy whole': [], 'direct stream': [], 'proxy stream': [] };
    const seconds: Record<string, number> = { 'direct whole': 0, 'proxy whole': 0, 'direct stream': 0, 'proxy stream': 0 };
    const cpu: Record<string, number | null>[] = [];
    for (let r = 1; r <= rounds; r++) {
      for (const stream of [false, true]) {
        const order = r % 2 === 1 ? ['direct', 'proxy'] : ['proxy', 'direct'];
        for (const mode of order) {
          say(`round ${r}: ${calls} ${stream ? 'streamed' : 'whole'} calls ${mode === 'proxy' ? 'through the proxy' : 'straight to the upstream'}, concurrency ${concurrency}…`);
          // Untimed first: the round's opening burst (every lane starting at once) and, through the proxy, the
          // authorization the quiet of the other mode's round let expire. Cold calls are measured on their own below.
          await measure(mode === 'proxy' ? proxied : direct, stream, 2 * concurrency, concurrency, spreadMs(stream));
          const before = readCpu(pids);
          const started = performance.now();
          const name = `${mode} ${stream ? 'stream' : 'whole'}`;
          samples[name]!.push(...(await measure(mode === 'proxy' ? proxied : direct, stream, calls, concurrency, spreadMs(stream))));
          seconds[name]! += (performance.now() - started) / 1000;
          if (mode === 'proxy') cpu.push(cpuPerUnitMs(before, readCpu(pids), calls));
        }
      }
    }

    // A customer's first call (or the first after 2 × authorizeCacheMs of quiet) waits for the API's answer: one
    // at a time, a new customer each, beside a direct call each.
    const coldCalls = Math.min(calls, 200);
    say(`cold calls: ${coldCalls} streamed calls one at a time, each through the proxy for a customer not seen before, and as many straight to the upstream…`);
    const cold: Record<string, number[]> = { direct: [], proxy: [] };
    for (let i = 0; i < coldCalls; i++) {
      cold.direct!.push(...(await measure(direct, true, 1, 1)));
      const customer = { ...proxied, headers: { ...proxied.headers, 'x-ledgerflow-customer': `bench-cold-${randomUUID().slice(0, 8)}` } };
      cold.proxy!.push(...(await measure(customer, true, 1, 1)));
    }

    const p = (name: string, q: number) => percentile(samples[name]!, q);
    const rows = Object.keys(samples).map((name) => [name, p(name, 50).toFixed(2), p(name, 99).toFixed(2), (samples[name]!.length / seconds[name]!).toFixed(0)]);
    const addedWhole = p('proxy whole', 99) - p('direct whole', 99);
    const addedFirst = p('proxy stream', 99) - p('direct stream', 99);
    const cpuMean = (proc: string) => cpu.reduce((s, c) => s + (c[proc] ?? 0), 0) / cpu.length;
    console.log(`\nProxy benchmark, ${new Date().toISOString()}: ${calls} calls per mode and round, ${rounds} rounds, concurrency ${concurrency}; ${pace}\n`);
    console.log(
      `milliseconds (whole: request → last byte; stream: request → first content delta)${paced ? ", less the upstream's own wait for that call (its x-fake-wait-ms)" : ''}:`,
    );
    console.log(formatTable(['mode', 'p50', 'p99', 'calls/s'], rows));
    const coldAdded = percentile(cold.proxy!, 50) - percentile(cold.direct!, 50);
    console.log(
      `\ncold calls (a customer's first, one at a time), time to first token p50 / p99: direct ${percentile(cold.direct!, 50).toFixed(2)} / ${percentile(cold.direct!, 99).toFixed(2)}, proxy ${percentile(cold.proxy!, 50).toFixed(2)} / ${percentile(cold.proxy!, 99).toFixed(2)}: the authorization round trip adds ${coldAdded.toFixed(2)} ms at p50 (not a target: reported)`,
    );
    console.log(`\n(calls sent again after the keep-alive race: ${retried})`);
    console.log(
      `\nCPU milliseconds per proxied call: ${Object.keys(pids)
        .map((proc) => `${proc} ${cpuMean(proc).toFixed(3)}`)
        .join(', ')} (the API and PostgreSQL also store, and the worker and Temporal rate, each call's event; bench is this load generator)`,
    );
    console.log(`\n${addedWhole <= TARGET_ADDED_MS ? 'PASS' : 'FAIL'}  the proxy adds ≤ ${TARGET_ADDED_MS} ms at p99 to a whole call (${addedWhole.toFixed(2)} ms)`);
    console.log(`${addedFirst <= TARGET_ADDED_MS ? 'PASS' : 'FAIL'}  the proxy adds ≤ ${TARGET_ADDED_MS} ms at p99 to the time to first token (${addedFirst.toFixed(2)} ms)`);
  } catch (err) {
    // What the proxy and the upstream said, for a run that failed.
    for (const child of children) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    process.stderr.write(`${childOutput.join('\n')}\n`);
    throw err;
  } finally {
    agent.destroy();
    for (const child of children) child.kill('SIGTERM');
    await prisma.$disconnect();
    await session.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:proxy failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
