import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as it passed the proxy: what the worker asked Stripe, and what it was answered. */
export interface ProxiedRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** the status the worker saw; null when the proxy dropped the request unanswered */
  status: number | null;
  /** the response body, parsed */
  body: Record<string, unknown> | null;
}

type Fault = { kind: 'error'; status: number } | { kind: 'timeout'; holdMs: number } | { kind: 'hold'; holdMs: number; arrived: () => void };

/**
 * A fault-injecting proxy in front of stripe-mock, on loopback: it forwards
 * every request, records it with its answer, and on request answers the next
 * matching ones with a 500, holds them unanswered until the client gives up
 * (a timeout), or holds the real answer back for a while (a slow Stripe) and
 * says when such a request arrived, so a test can kill the worker mid-call.
 */
export class StripeFaultProxy {
  readonly requests: ProxiedRequest[] = [];
  private readonly faults: { method: string; pattern: RegExp; fault: Fault }[] = [];
  private server?: http.Server;
  private upstream = '';

  /** The next `times` requests matching answer HTTP `status` (Stripe's api_error shape). */
  failNext(method: string, pattern: RegExp, times = 1, status = 500): void {
    for (let i = 0; i < times; i++) this.faults.push({ method, pattern, fault: { kind: 'error', status } });
  }

  /** The next `times` requests matching get no answer for `holdMs`, then the connection is dropped. */
  timeoutNext(method: string, pattern: RegExp, times = 1, holdMs = 35_000): void {
    for (let i = 0; i < times; i++) this.faults.push({ method, pattern, fault: { kind: 'timeout', holdMs } });
  }

  /** The next request matching is forwarded and its answer held `holdMs`; resolves when it arrives. */
  holdNext(method: string, pattern: RegExp, holdMs: number): Promise<void> {
    return new Promise((arrived) => this.faults.push({ method, pattern, fault: { kind: 'hold', holdMs, arrived } }));
  }

  /** Successful requests matching. */
  succeeded(method: string, pattern: RegExp): ProxiedRequest[] {
    return this.requests.filter((r) => r.method === method && pattern.test(r.path) && r.status !== null && r.status < 300);
  }

  /** Listens on a free loopback port in front of `upstream` (stripe-mock's base URL); resolves with its own. */
  async start(upstream: string): Promise<string> {
    this.upstream = upstream;
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!;
    const record: ProxiedRequest = { method, path, idempotencyKey: (req.headers['idempotency-key'] as string | undefined) ?? null, status: null, body: null };
    this.requests.push(record);
    const index = this.faults.findIndex((f) => f.method === method && f.pattern.test(path));
    const fault = index >= 0 ? this.faults.splice(index, 1)[0]!.fault : null;
    if (fault?.kind === 'error') {
      record.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'api_error', message: 'injected by the fault proxy' } }));
      return;
    }
    if (fault?.kind === 'timeout') {
      setTimeout(() => req.socket.destroy(), fault.holdMs).unref();
      return;
    }
    if (fault?.kind === 'hold') fault.arrived();
    const headers = { ...req.headers };
    delete headers.host;
    try {
      const upstream = await fetch(`${this.upstream}${req.url ?? '/'}`, { method, headers: headers as Record<string, string>, ...(body.length > 0 ? { body } : {}) });
      let text = await upstream.text();
      // stripe-mock keeps no state and answers every pay with its fixture's draft invoice; Stripe answers a paid one.
      if (upstream.ok && method === 'POST' && /^\/v1\/invoices\/[^/]+\/pay$/.test(path)) text = JSON.stringify({ ...(JSON.parse(text) as object), status: 'paid' });
      if (fault?.kind === 'hold') await new Promise((r) => setTimeout(r, fault.holdMs));
      record.status = upstream.status;
      try {
        record.body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        record.body = null;
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(text);
    } catch {
      // The client went away (killed) while its answer was held: nothing to send.
      res.destroy();
    }
  }
}
