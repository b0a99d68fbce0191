import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { normalizeEmail } from '../prisma/users';

/*
 * Failed sign-ins, limited per email and per client IP, so passwords cannot
 * be guessed at scrypt speed. The counters live in PostgreSQL through
 * rate-limiter-flexible's PostgreSQL store, so
 * every web instance shares them; an in-memory insurance limiter takes over
 * per instance while the store fails. Every attempt spends a point from
 * both budgets; a successful sign-in gives the IP's back and clears the
 * email's. Unknown emails are counted like known ones, so a refusal tells
 * nothing about which accounts exist.
 */

export interface SignInLimitOptions {
  /** attempts per email per window; the next one is refused */
  perEmail: number;
  /** attempts per client IP per window (higher: offices share an address) */
  perIp: number;
  windowSeconds: number;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/** SIGN_IN_MAX_ATTEMPTS_PER_EMAIL (5), SIGN_IN_MAX_ATTEMPTS_PER_IP (50), SIGN_IN_LIMIT_WINDOW_SECONDS (900). */
export function signInLimitOptions(env: NodeJS.ProcessEnv = process.env): SignInLimitOptions {
  return {
    perEmail: positiveInt(env, 'SIGN_IN_MAX_ATTEMPTS_PER_EMAIL', 5),
    perIp: positiveInt(env, 'SIGN_IN_MAX_ATTEMPTS_PER_IP', 50),
    windowSeconds: positiveInt(env, 'SIGN_IN_LIMIT_WINDOW_SECONDS', 900),
  };
}

/** rate-limiter-flexible's own table (named when the API shared it), created UNLOGGED: counters are worth nothing after a crash. */
const RATE_LIMIT_TABLE = 'api_rate_limits';

async function createRateLimitTable(pool: Pool): Promise<void> {
  try {
    await pool.query(`CREATE UNLOGGED TABLE IF NOT EXISTS ${RATE_LIMIT_TABLE} (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`);
  } catch (err) {
    // Two instances starting at once race on CREATE TABLE IF NOT EXISTS; the loser sees 23505.
    if ((err as { code?: string }).code !== '23505') throw err;
  }
}

function limiter(pool: Pool, keyPrefix: string, points: number, duration: number): RateLimiterPostgres {
  return new RateLimiterPostgres({
    storeClient: pool,
    storeType: 'pool',
    tableName: RATE_LIMIT_TABLE,
    tableCreated: true,
    keyPrefix,
    points,
    duration,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration }),
  });
}

// Emails are hashed into keys: the counter table holds no addresses, and keys stay short.
const emailKey = (email: string): string => createHash('sha256').update(normalizeEmail(email)).digest('hex');

export class SignInLimit {
  private readonly byEmail: RateLimiterPostgres;
  private readonly byIp: RateLimiterPostgres;
  private readonly ready: Promise<void>;

  constructor(pool: Pool, options: SignInLimitOptions, log: (message: string, err?: unknown) => void) {
    this.byEmail = limiter(pool, 'signin-email', options.perEmail, options.windowSeconds);
    this.byIp = limiter(pool, 'signin-ip', options.perIp, options.windowSeconds);
    this.ready = createRateLimitTable(pool).catch((err: unknown) => log('sign-in limit table could not be created; limiting in memory per instance', err));
  }

  /**
   * Spends one attempt for this email and IP. Returns null when the attempt
   * may go on, or the seconds until the next one is allowed.
   */
  async attempt(email: string, ip: string): Promise<number | null> {
    await this.ready;
    const results = await Promise.allSettled([this.byEmail.consume(emailKey(email)), this.byIp.consume(ip)]);
    let waitSeconds: number | null = null;
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      if (!(r.reason instanceof RateLimiterRes)) throw r.reason;
      waitSeconds = Math.max(waitSeconds ?? 1, Math.ceil(r.reason.msBeforeNext / 1000));
    }
    return waitSeconds;
  }

  /** The attempt signed in: it does not count against the IP, and the email's failures are forgiven. */
  async succeeded(email: string, ip: string): Promise<void> {
    await Promise.all([this.byEmail.delete(emailKey(email)), this.byIp.reward(ip)]);
  }
}
