import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { bareHost, urlRefusal, type OutboundPolicy } from '../../billing/outbound-urls';
import { connectAddress, OutboundRefused } from '../../services/outbound-address';

export interface OutboundPost {
  headers: Record<string, string>;
  body: string;
  /** the whole exchange, connect to last byte */
  timeoutMs: number;
}

/**
 * POSTs to an organization's URL (its CRM webhook) through the outbound
 * guard: the scheme is checked, the name resolved once, and the connection
 * made to the address that was checked, with TLS verifying the certificate
 * against the URL's name. Redirects are not followed (a 3xx is an answer
 * like any other): a redirect could point anywhere. Resolves with the HTTP
 * status; throws OutboundRefused when the guard refuses, and the network's
 * own errors otherwise.
 */
export async function postOutbound(rawUrl: string, post: OutboundPost, policy: OutboundPolicy, lookup?: Parameters<typeof connectAddress>[2]): Promise<{ status: number }> {
  const refusal = urlRefusal(rawUrl, 'http', policy);
  if (refusal) throw new OutboundRefused(`URL refused: ${refusal}`);
  const url = new URL(rawUrl);
  const { address, family } = await connectAddress(url.hostname, policy, lookup);
  const secure = url.protocol === 'https:';
  const name = bareHost(url.hostname);
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      {
        host: address,
        family,
        port: url.port || (secure ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { ...post.headers, host: url.host, 'content-length': String(Buffer.byteLength(post.body)) },
        // SNI and certificate checks use the name, not the address connected to.
        ...(secure && !isIP(name) ? { servername: name } : {}),
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer from ${url.host} within ${post.timeoutMs} ms`)), post.timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(post.body);
  });
}
