import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One chat.postMessage call as the fake received it. */
export interface RecordedSlackMessage {
  channel: string;
  text: string;
  /** the bearer token the client sent */
  token: string | null;
  /** Slack message metadata, parsed (the SDK sends it as a JSON string) */
  metadata: unknown;
  /** Block Kit blocks, parsed (null when the message had none) */
  blocks: unknown;
}

export interface SlackFake {
  /** Web API base URL for WebClient's slackApiUrl (trailing slash included) */
  apiUrl: string;
  /** messages answered with ok: true */
  readonly messages: RecordedSlackMessage[];
  /** messages answered with an error */
  readonly rejected: (RecordedSlackMessage & { error: string })[];
  /** answer the next `times` postMessage calls with { ok: false, error } (e.g. channel_not_found) */
  failNext(error: string, times?: number): void;
  close(): Promise<void>;
}

/**
 * A local stand-in for Slack's Web API: answers POST /api/chat.postMessage
 * the way Slack does (HTTP 200 with `ok`), and records every call, so tests
 * see exactly what a workspace would have received.
 */
export async function startSlackFake(): Promise<SlackFake> {
  const messages: RecordedSlackMessage[] = [];
  const rejected: (RecordedSlackMessage & { error: string })[] = [];
  const failures: string[] = [];
  let ts = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = (body: object): void => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/api/chat.postMessage') {
        answer({ ok: false, error: 'unknown_method' });
        return;
      }
      const fields = parseBody(req.headers['content-type'] ?? '', Buffer.concat(chunks).toString('utf8'));
      const auth = req.headers.authorization;
      const message: RecordedSlackMessage = {
        channel: String(fields.channel ?? ''),
        text: String(fields.text ?? ''),
        token: auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : typeof fields.token === 'string' ? fields.token : null,
        metadata: typeof fields.metadata === 'string' ? JSON.parse(fields.metadata) : (fields.metadata ?? null),
        blocks: typeof fields.blocks === 'string' ? JSON.parse(fields.blocks) : (fields.blocks ?? null),
      };
      const error = failures.shift();
      if (error) {
        rejected.push({ ...message, error });
        answer({ ok: false, error });
        return;
      }
      messages.push(message);
      ts += 1;
      answer({ ok: true, channel: message.channel, ts: `1700000000.${String(ts).padStart(6, '0')}`, message: { type: 'message', text: message.text } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    messages,
    rejected,
    failNext(error, times = 1) {
      for (let i = 0; i < times; i++) failures.push(error);
    },
    close() {
      // fetch keeps connections alive; close them so the server (and jest) can stop.
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** The SDK posts form-encoded fields; JSON is accepted too, as Slack does. */
function parseBody(contentType: string, body: string): Record<string, unknown> {
  if (contentType.includes('application/json')) return JSON.parse(body) as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams(body));
}
