import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { post } from './http-client';
import { inLanes } from './lanes';
import { treeCpuSeconds } from './proc-cpu';

/** A bare node:http server that reads a JSON body and answers 202 with a small JSON, as the ingest route does without any of its work. */
const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const json = JSON.stringify({ batch_id: '01939a00-0000-7000-8000-000000000000', accepted: 1, duplicates: 0, duplicate_keys: [], rejected: [], key: body.idempotency_key ?? null });
    res.writeHead(202, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
    res.end(json);
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

export interface HttpFloor {
  perSec: number;
  /** CPU per request, ms */
  serverMs: number;
  clientMs: number;
}

/**
 * The HTTP floor of one-event ingest on this machine: the same keep-alive
 * client and bodies against a server that does nothing but parse and answer.
 * What the API, its database and the client can never go below per request,
 * so the 1 × 16 report can say how much of its CPU is the protocol itself.
 */
export async function measureHttpFloor(bodies: readonly string[], concurrency: number): Promise<HttpFloor> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`the HTTP floor's server exited (code ${String(code)}) before it listened`);
    });
    const [chunk] = (await Promise.race([once(child.stdout!, 'data'), exited])) as [Buffer];
    exited.catch(() => undefined);
    const url = new URL(`http://127.0.0.1:${Number(chunk.toString().trim())}/api/v1/events`);
    const serverBefore = treeCpuSeconds(child.pid!) ?? 0;
    const clientBefore = process.cpuUsage();
    const started = performance.now();
    await inLanes(bodies.length, concurrency, async (i) => {
      const res = await post(url, 'floor', bodies[i]!);
      if (res.status !== 202) throw new Error(`the HTTP floor's server answered ${res.status}`);
    });
    const seconds = (performance.now() - started) / 1000;
    const client = process.cpuUsage(clientBefore);
    return {
      perSec: bodies.length / seconds,
      serverMs: (((treeCpuSeconds(child.pid!) ?? 0) - serverBefore) / bodies.length) * 1000,
      clientMs: (client.user + client.system) / 1000 / bodies.length,
    };
  } finally {
    child.kill();
  }
}
