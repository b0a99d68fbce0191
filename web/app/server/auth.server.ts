import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { data, redirect, type AppLoadContext } from 'react-router';
import { hashPassword, verifyPassword } from '../../../prisma/passwords';
import { normalizeEmail } from '../../../prisma/users';
import { can, type Permission, type Role } from '../permissions';

/**
 * Sessions and CSRF for the web app.
 * - The cookie holds a random 256-bit token; the sessions table keys on its
 *   SHA-256, so a leaked table opens no session. HttpOnly, SameSite=Lax,
 *   Secure when the request came over https.
 * - Every form carries a CSRF token derived from the session token
 *   (HMAC(token, "csrf")): only a page that could read the session can know
 *   it, and it is checked server-side on every action. The sign-in form,
 *   before any session exists, uses a double-submit cookie instead.
 */
const SESSION_COOKIE = 'lf_session';
const LOGIN_CSRF_COOKIE = 'lf_login_csrf';
const SESSION_HOURS = 12;

export interface SignedInUser {
  id: string;
  organizationId: string;
  email: string;
  role: Role;
  /** the CSRF token every form of this session must send back */
  csrf: string;
}

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');
const csrfFor = (token: string): string => createHmac('sha256', token).update('csrf').digest('base64url');

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function readCookie(request: Request, name: string): string | null {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

function cookie(request: Request, name: string, value: string, maxAgeSeconds: number): string {
  const secure = new URL(request.url).protocol === 'https:' ? '; Secure' : '';
  return `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure}`;
}

/** The signed-in user, or null (no cookie, unknown or expired session, disabled user). */
export async function currentUser(request: Request, context: AppLoadContext): Promise<SignedInUser | null> {
  const token = readCookie(request, SESSION_COOKIE);
  if (!token) return null;
  const session = await context.prisma.session.findUnique({ where: { id: sha256(token) }, include: { user: true } });
  if (!session || session.expiresAt <= new Date() || session.user.disabledAt) return null;
  const { user } = session;
  return { id: user.id, organizationId: user.organizationId, email: user.email, role: user.role, csrf: csrfFor(token) };
}

/** For loaders: the user, who must hold `permission`; otherwise off to sign-in (no session) or 403. */
export async function requireUser(request: Request, context: AppLoadContext, permission: Permission = 'read'): Promise<SignedInUser> {
  const user = await currentUser(request, context);
  if (!user) {
    const url = new URL(request.url);
    throw redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`);
  }
  requirePermission(user, permission);
  return user;
}

function requirePermission(user: SignedInUser, permission: Permission): void {
  if (!can(user.role, permission)) throw data({ message: `Your role (${user.role}) may not do this.` }, { status: 403 });
}

/**
 * For actions: the form carries this session's CSRF token and the user holds
 * `permission` — or, on a page with several forms, the permission the form's
 * intent needs.
 */
export async function requireFormAction(request: Request, context: AppLoadContext, permission: Permission | ((form: FormData) => Permission)): Promise<{ user: SignedInUser; form: FormData }> {
  const user = await requireUser(request, context, typeof permission === 'function' ? 'read' : permission);
  const form = await request.formData();
  const sent = form.get('csrf');
  if (typeof sent !== 'string' || !sameSecret(sent, user.csrf)) {
    throw data({ message: 'The form expired or did not come from this site; reload the page and try again.' }, { status: 403 });
  }
  if (typeof permission === 'function') requirePermission(user, permission(form));
  return { user, form };
}

/** The sign-in form's double-submit token: reuses the cookie's, or makes one (with the Set-Cookie to send). */
export function loginCsrf(request: Request): { token: string; setCookie: string | null } {
  const existing = readCookie(request, LOGIN_CSRF_COOKIE);
  if (existing) return { token: existing, setCookie: null };
  const token = randomBytes(24).toString('base64url');
  return { token, setCookie: cookie(request, LOGIN_CSRF_COOKIE, token, 60 * 60) };
}

export function loginCsrfMatches(request: Request, sent: unknown): boolean {
  const expected = readCookie(request, LOGIN_CSRF_COOKIE);
  return !!expected && typeof sent === 'string' && sameSecret(sent, expected);
}

// A hash of a random password with the current parameters: unknown emails
// cost one scrypt too, so response time does not tell which emails exist.
let decoy: Promise<string> | undefined;
function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}

/**
 * Checks email and password and opens a session; returns its Set-Cookie, or
 * null when they do not match an enabled user. An email may exist in several
 * organizations; the one whose password matches signs in.
 */
export async function signIn(request: Request, context: AppLoadContext, email: string, password: string): Promise<string | null> {
  const candidates = await context.prisma.user.findMany({ where: { email: normalizeEmail(email), disabledAt: null }, orderBy: { createdAt: 'asc' } });
  if (candidates.length === 0) {
    await verifyPassword(password, await decoyHash());
    return null;
  }
  for (const user of candidates) {
    if (!(await verifyPassword(password, user.passwordHash))) continue;
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + SESSION_HOURS * 3600_000);
    await context.prisma.session.create({ data: { id: sha256(token), userId: user.id, expiresAt } });
    // Expired sessions are swept at sign-in, the only place sessions are made.
    await context.prisma.session.deleteMany({ where: { expiresAt: { lt: new Date() } } });
    return cookie(request, SESSION_COOKIE, token, SESSION_HOURS * 3600);
  }
  return null;
}

/** Ends the session of this request; returns the Set-Cookie that clears it. */
export async function signOut(request: Request, context: AppLoadContext): Promise<string> {
  const token = readCookie(request, SESSION_COOKIE);
  if (token) await context.prisma.session.deleteMany({ where: { id: sha256(token) } });
  return cookie(request, SESSION_COOKIE, '', 0);
}
