import http from 'node:http';

/** Keep-alive HTTP client: cheaper per request than fetch, so the benchmark client takes less of the two cores. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export interface HttpAnswer {
  status: number;
  body: string;
  ms: number;
}

/** One request with an API key (a JSON body for POST), timed from send to the last byte. */
export function request(method: 'GET' | 'POST', url: URL, key: string, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const headers: Record<string, string | number> = { authorization: `Bearer ${key}` };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const req = http.request({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Closes the kept-alive sockets, so the benchmark's process can exit. */
export const closeHttpClient = (): void => agent.destroy();

export const post = (url: URL, key: string, body: string): Promise<HttpAnswer> => request('POST', url, key, body);
