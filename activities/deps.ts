import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type Stripe from 'stripe';
import type { PrismaClient } from '../prisma/client';
import type { Notifier } from './notifier';
import type { OutboundPolicy } from '../billing/outbound-urls';
import type { StripeAccounts } from './stripe/accounts';

/**
 * What activities need from the outside world. Tests pass the real database
 * and Temporal and, where useful, a recording notifier.
 */
export interface ActivityDeps {
  prisma: PrismaClient;
  /** plain pg for the ingest path's set-based statements: no ORM between a 1,000-event batch and PostgreSQL */
  pool: Pool;
  /** Needed by the sweeper, which starts ingest workflows. */
  temporal?: Client;
  /** Task queue the sweeper starts ingest workflows on. */
  taskQueue: string;
  notifier: Notifier;
  /** Stripe API client (the real API, or stripe-mock / a fake in tests); billing runs need it to finalize and collect */
  stripe?: Stripe;
  /** clients of organizations with their own Stripe key, tried before `stripe` */
  stripeAccounts?: StripeAccounts;
  /** false where the namespace has no custom search attributes (Temporal's time-skipping test server) */
  searchAttributes?: boolean;
  /** where organizations' own URLs (CRM webhook) may point; default: public https only */
  outbound?: OutboundPolicy;
}

/**
 * Interactive transactions of one batch: up to 1,000 events and as many
 * customers or counters. Prisma's 5 s default is too tight on a busy 2-core box.
 */
export const TX_OPTIONS = { maxWait: 10_000, timeout: 60_000 } as const;
