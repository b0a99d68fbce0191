import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/*
 * Where Ledgerflow may connect when an organization names the server: its
 * CRM webhook and its SMTP server. Anyone with an admin key sets those URLs,
 * so without rules they would make the worker send requests into the
 * deployment's own network (the cloud metadata service at 169.254.169.254,
 * the database, Temporal's frontend). These are the rules, pure: the API and
 * the web app refuse a URL with urlRefusal before it is stored, and the
 * worker (services/outbound-address.ts) resolves a name once, judges every
 * address with addressRefusal and connects to the address it judged.
 *
 * The deployment's own settings (SMTP_URL, SLACK_API_URL, STRIPE_API_BASE)
 * are the operator's and are not judged.
 */

export interface OutboundPolicy {
  /**
   * Development only (OUTBOUND_DEVELOPMENT=1): organizations' URLs may use
   * plain http and SMTP without TLS, and may point at loopback, private and
   * link-local addresses, so a local CRM or mail catcher can receive them.
   */
  allowDevelopmentTargets: boolean;
}

export const STRICT_OUTBOUND: OutboundPolicy = { allowDevelopmentTargets: false };

/** OUTBOUND_DEVELOPMENT: unset or 0 = production rules, 1 = development targets allowed. */
export function outboundPolicyFromEnv(env: NodeJS.ProcessEnv): OutboundPolicy {
  const raw = env.OUTBOUND_DEVELOPMENT;
  if (raw === undefined || raw === '' || raw === '0') return STRICT_OUTBOUND;
  if (raw === '1') return { allowDevelopmentTargets: true };
  throw new Error(`OUTBOUND_DEVELOPMENT must be 0 or 1 (got "${raw}")`);
}

export const DEVELOPMENT_HINT = 'OUTBOUND_DEVELOPMENT=1 allows it, for development only';

/** Names for the ranges ipaddr.js reports, as an operator would read them. */
const RANGE_NAMES: Record<string, string> = {
  loopback: 'loopback',
  private: 'private',
  linkLocal: 'link-local (cloud metadata lives here)',
  uniqueLocal: 'private (unique local)',
  carrierGradeNat: 'carrier-grade NAT (some clouds\' metadata lives here)',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  reserved: 'reserved',
};

/**
 * Why Ledgerflow will not connect to this IP address, or null for a public
 * unicast one. Everything ipaddr.js does not call unicast is refused, which
 * includes the IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4,
 * Teredo): an IPv4-mapped address is judged as the IPv4 address it maps.
 */
export function addressRefusal(address: string): string | null {
  if (!ipaddr.isValid(address)) return `"${address}" is not an IP address`;
  let ip: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  const range = ip.range();
  if (range === 'unicast') return null;
  return `${address} is a ${RANGE_NAMES[range] ?? `special-purpose (${range})`} address`;
}

/** A URL's host as a name or a bare IP (IPv6 without its brackets). */
export function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/**
 * Why an organization's URL is refused before anything is stored or sent,
 * or null: the scheme (https, or smtps / smtp with STARTTLS required) and a
 * host given as an IP literal or `localhost`. Names are resolved only when
 * connecting (DNS answers change), by connectAddress.
 */
export function urlRefusal(raw: string, kind: 'http' | 'smtp', policy: OutboundPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a URL';
  }
  if (kind === 'http' && url.protocol !== 'https:' && !(policy.allowDevelopmentTargets && url.protocol === 'http:')) {
    return `must be an https URL (plain http: ${DEVELOPMENT_HINT})`;
  }
  if (policy.allowDevelopmentTargets) return null;
  const host = bareHost(url.hostname);
  const inside = `organizations' servers must be on public addresses (${DEVELOPMENT_HINT})`;
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is loopback; ${inside}`;
  if (isIP(host)) {
    const refusal = addressRefusal(host);
    if (refusal) return `${refusal}; ${inside}`;
  }
  return null;
}
