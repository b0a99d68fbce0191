import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createPgPool } from '../prisma/client';
import { createUser } from '../prisma/users';
import { SignInLimit } from '../web/sign-in-limit';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startWebServer, type WebServer } from './harness/web-app';

/**
 * Failed sign-ins are limited per email and per client IP, with counters in
 * PostgreSQL that every web instance shares: two limiters on two pools stand
 * in for two instances, and the real web server answers the sign-in form
 * with 429 and Retry-After, the same for known and unknown emails.
 */
const PASSWORD = 'limit-test-password-1';
const log = (message: string, err?: unknown): void => {
  throw new Error(`${message}: ${String(err)}`);
};
const uniqueEmail = (label: string): string => `${label}-${randomUUID().slice(0, 8)}@limit.test`;
const uniqueIp = (): string => `10.${[0, 0, 0].map(() => Math.floor(Math.random() * 250) + 1).join('.')}`;

describe('SignInLimit (PostgreSQL store, shared by instances)', () => {
  const pools: Pool[] = [];
  const instance = (options = { perEmail: 3, perIp: 100, windowSeconds: 60 }): SignInLimit => {
    const pool = createPgPool(process.env.DATABASE_URL, { max: 2 });
    pools.push(pool);
    return new SignInLimit(pool, options, log);
  };

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
  });

  it('counts one email’s attempts across instances and refuses the one over the limit with a wait', async () => {
    const [a, b] = [instance(), instance()];
    const email = uniqueEmail('shared');
    const ip = uniqueIp();
    expect(await a.attempt(email, ip)).toBeNull();
    expect(await b.attempt(email.toUpperCase(), ip)).toBeNull();
    expect(await a.attempt(email, ip)).toBeNull();
    const wait = await b.attempt(email, ip);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    // Another email from the same address still gets its own budget.
    expect(await a.attempt(uniqueEmail('other'), ip)).toBeNull();
  });

  it('forgives an email’s failures when it signs in', async () => {
    const limit = instance();
    const email = uniqueEmail('forgiven');
    const ip = uniqueIp();
    for (let i = 0; i < 3; i++) expect(await limit.attempt(email, ip)).toBeNull();
    await limit.succeeded(email, ip);
    expect(await limit.attempt(email, ip)).toBeNull();
  });

  it('limits one client IP across many emails', async () => {
    const limit = instance({ perEmail: 10, perIp: 4, windowSeconds: 60 });
    const ip = uniqueIp();
    for (let i = 0; i < 4; i++) expect(await limit.attempt(uniqueEmail('spray'), ip)).toBeNull();
    expect(await limit.attempt(uniqueEmail('spray'), ip)).toBeGreaterThanOrEqual(1);
    expect(await limit.attempt(uniqueEmail('spray'), uniqueIp())).toBeNull();
  });
});

describe('the sign-in form under the limit', () => {
  let web: WebServer | undefined;
  let email: string;

  beforeAll(async () => {
    const { organizationId } = await createTestOrganization('sign-in-limit');
    email = (await createUser(testPrisma(), { organizationId, email: uniqueEmail('known'), role: 'viewer', password: PASSWORD }, { type: 'system', id: 'test' })).email;
    // Loopback is the trusted proxy, so each case can speak for a client IP of its own.
    web = await startWebServer({ SIGN_IN_MAX_ATTEMPTS_PER_EMAIL: '2', SIGN_IN_MAX_ATTEMPTS_PER_IP: '3', SIGN_IN_LIMIT_WINDOW_SECONDS: '600', TRUST_PROXY: 'loopback' });
  }, 120_000);

  afterAll(async () => {
    await web?.stop();
    await closeTestPrisma();
  });

  /** Posts the sign-in form as a browser without JavaScript would, from `ip`. */
  async function submit(ip: string, credentials: { email: string; password: string }): Promise<{ status: number; retryAfter: string | null; message: string | null; signedIn: boolean }> {
    const page = await fetch(`${web!.baseUrl}/login`, { headers: { 'X-Forwarded-For': ip } });
    const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1];
    const response = await fetch(`${web!.baseUrl}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'X-Forwarded-For': ip, cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: csrf!, next: '/', ...credentials }),
    });
    const html = await response.text();
    const message = /<p class="notice error" role="alert" id="login-error">([^<]*)<\/p>/.exec(html)?.[1] ?? null;
    const signedIn = response.headers.getSetCookie().some((c) => c.startsWith('lf_session=') && !c.startsWith('lf_session=;'));
    return { status: response.status, retryAfter: response.headers.get('retry-after'), message, signedIn };
  }

  it('refuses the attempt over the per-email limit with 429 and Retry-After, even with the right password', async () => {
    const ip = uniqueIp();
    const wrong = { email, password: 'not-the-password' };
    expect(await submit(ip, wrong)).toMatchObject({ status: 401, message: 'Email or password is wrong.' });
    expect(await submit(ip, wrong)).toMatchObject({ status: 401 });
    // From another address: the limit belongs to the email.
    const limited = await submit(uniqueIp(), { email, password: PASSWORD });
    expect(limited.status).toBe(429);
    expect(limited.signedIn).toBe(false);
    expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(limited.retryAfter)).toBeLessThanOrEqual(600);
    expect(limited.message).toMatch(/^Too many sign-in attempts for this account or from your network\. Try again in \d+ minutes?\.$/);
  });

  it('answers an unknown email exactly like a known one, so the limit reveals no accounts', async () => {
    const ip = uniqueIp();
    const unknown = { email: uniqueEmail('nobody'), password: 'whatever-password' };
    const answers = [await submit(ip, unknown), await submit(ip, unknown), await submit(uniqueIp(), unknown)];
    expect(answers.map((a) => [a.status, a.message])).toEqual([
      [401, 'Email or password is wrong.'],
      [401, 'Email or password is wrong.'],
      [429, expect.stringMatching(/^Too many sign-in attempts/)],
    ]);
  });

  it('limits failures from one client IP across emails, and a good password from another IP still signs in', async () => {
    const ip = uniqueIp();
    for (let i = 0; i < 3; i++) expect((await submit(ip, { email: uniqueEmail('spray'), password: 'guess-password' })).status).toBe(401);
    expect((await submit(ip, { email: uniqueEmail('spray'), password: 'guess-password' })).status).toBe(429);
    const fresh = await createTestOrganization('sign-in-limit-ok');
    const ok = await createUser(testPrisma(), { organizationId: fresh.organizationId, email: uniqueEmail('ok'), role: 'viewer', password: PASSWORD }, { type: 'system', id: 'test' });
    expect(await submit(uniqueIp(), { email: ok.email, password: PASSWORD })).toMatchObject({ status: 302, signedIn: true });
  });
});
