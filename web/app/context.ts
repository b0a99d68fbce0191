import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { PrismaClient } from '../../prisma/client';
import type { OutboundPolicy } from '../../billing/outbound-urls';
import type { SignInLimit } from '../sign-in-limit';

/**
 * What web/server.ts hands every loader and action: long-lived clients and
 * settings. A type, not an interface, so it fits AppLoadContext's index signature.
 */
export type WebContext = {
  prisma: PrismaClient;
  /** plain pg, for read models written as SQL (services/) */
  pool: Pool;
  temporal: Client;
  temporalNamespace: string;
  /** base URL of the Temporal Web UI, no trailing slash */
  temporalUiUrl: string;
  /** failed sign-ins per email and client IP, shared by every web instance */
  signInLimit: SignInLimit;
  /** where organizations' own URLs (CRM webhook, SMTP server) may point (OUTBOUND_DEVELOPMENT) */
  outbound: OutboundPolicy;
  /** this request's client address (Express's req.ip, which honours TRUST_PROXY) */
  clientIp: string;
};

declare module 'react-router' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AppLoadContext extends WebContext {}
}
