import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { addressRefusal, bareHost, DEVELOPMENT_HINT, type OutboundPolicy } from '../billing/outbound-urls';

/*
 * The connecting side of the outbound rules (billing/outbound-urls.ts), for the worker and the AI proxy: only
 * public unicast addresses are connected to, and the address checked is the
 * address connected to: the name is resolved once here and the connection
 * made to that address (TLS still verifies the certificate against the
 * name), so a DNS answer that changes between check and connect (rebinding)
 * cannot slip through.
 */

export class OutboundRefused extends Error {
  override name = 'OutboundRefused';
}

type Lookup = (hostname: string, options: { all: true; verbatim: true }) => Promise<{ address: string; family: number }[]>;

/**
 * The address to connect to for `host`: an IP literal is judged as it is, a
 * name is resolved and every address it has must be public (one private
 * answer among public ones is refused, not skipped: it is a sign of a name
 * pointed at the inside). Throws OutboundRefused saying which address and
 * why. With development targets allowed, nothing is refused.
 */
export async function connectAddress(host: string, policy: OutboundPolicy, lookup: Lookup = dnsLookup as Lookup): Promise<{ address: string; family: 4 | 6 }> {
  const name = bareHost(host);
  const literal = isIP(name);
  const answers = literal ? [{ address: name, family: literal }] : await lookup(name, { all: true, verbatim: true });
  if (answers.length === 0) throw new OutboundRefused(`${name} has no address`);
  if (!policy.allowDevelopmentTargets) {
    for (const answer of answers) {
      const refusal = addressRefusal(answer.address);
      if (refusal) throw new OutboundRefused(`not connecting to ${name}: ${refusal}; organizations' servers must be on public addresses (${DEVELOPMENT_HINT})`);
    }
  }
  const first = answers[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
