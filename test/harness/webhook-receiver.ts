import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One POST as the receiver got it, with whether its Standard Webhooks signature verified. */
export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** the signature verified under the secret registered for the path (false: none registered, or a bad signature) */
  verified: boolean;
  /** what the receiver answered */
  answered: number;
  at: number;
}

export interface WebhookReceiver {
  /** http://127.0.0.1:<port> */
  url: string;
  readonly received: ReceivedWebhook[];
  /** the secret deliveries to `path` are verified with */
  trust(path: string, secret: string): void;
  /** answer the next POSTs to `path` with these statuses, in order (then 200) */
  answer(path: string, ...statuses: number[]): void;
  /** answer every POST to `path` with `status` until told otherwise (null: back to 200) */
  always(path: string, status: number | null): void;
  close(): Promise<void>;
}

/**
 * An organization's webhook endpoint on loopback: records each POST and
 * verifies its signature with the standardwebhooks library, as a receiver
 * following the scheme would.
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const secrets = new Map<string, string>();
  const queued = new Map<string, number[]>();
  const fixed = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verified = false;
      const secret = secrets.get(path);
      if (secret) {
        try {
          new Webhook(secret).verify(body, headers);
          verified = true;
        } catch {
          verified = false;
        }
      }
      const status = queued.get(path)?.shift() ?? fixed.get(path) ?? 200;
      received.push({ path, headers, body, verified, answered: status, at: Date.now() });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    trust: (path, secret) => void secrets.set(path, secret),
    answer: (path, ...statuses) => void queued.set(path, [...(queued.get(path) ?? []), ...statuses]),
    always: (path, status) => void (status === null ? fixed.delete(path) : fixed.set(path, status)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
