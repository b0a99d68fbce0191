import type { AppLoadContext } from 'react-router';
import { changeUser, createUser, isUserRole, normalizeEmail, UserChangeRefused, USER_ROLES } from '../../../prisma/users';
import type { SignedInUser } from './auth.server';
import { formText } from './forms.server';

export interface UserRow {
  id: string;
  email: string;
  role: (typeof USER_ROLES)[number];
  createdAt: string;
  disabled: boolean;
}

export type UserOutcome = { ok: boolean; message: string };

/** Long enough that a guessed password is unlikely within the sign-in rate limit. */
export const MIN_PASSWORD_LENGTH = 12;

export async function listUsers(context: AppLoadContext, organizationId: string): Promise<UserRow[]> {
  const users = await context.prisma.user.findMany({ where: { organizationId }, orderBy: [{ email: 'asc' }] });
  return users.map((u) => ({ id: u.id, email: u.email, role: u.role, createdAt: u.createdAt.toISOString(), disabled: !!u.disabledAt }));
}


/**
 * The forms of the users page: add a user, change a role, disable or
 * re-enable. prisma/users.ts does the work (audited, and it refuses to
 * demote or disable the last admin); this module turns forms into calls and
 * refusals into messages.
 */
export async function applyUserForm(context: AppLoadContext, admin: SignedInUser, form: FormData): Promise<UserOutcome> {
  const actor = { type: 'user', id: admin.email } as const;
  const intent = formText(form, 'intent');
  const role = formText(form, 'role');
  if (intent === 'create') {
    const email = normalizeEmail(formText(form, 'email'));
    const password = String(form.get('password') ?? '');
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) return { ok: false, message: 'Enter the new user’s email address.' };
    if (!isUserRole(role)) return { ok: false, message: `Role must be one of ${USER_ROLES.join(', ')}.` };
    if (password.length < MIN_PASSWORD_LENGTH) return { ok: false, message: `The initial password needs at least ${MIN_PASSWORD_LENGTH} characters.` };
    try {
      await createUser(context.prisma, { organizationId: admin.organizationId, email, role, password }, actor);
    } catch (err) {
      // P2002: the (organization, email) unique index; checked by code so the generated client stays out of the web bundle.
      if ((err as { code?: unknown }).code === 'P2002') return { ok: false, message: `${email} already has an account here.` };
      throw err;
    }
    return { ok: true, message: `Added ${email} as ${role}. Give them the initial password through a private channel.` };
  }
  const userId = formText(form, 'userId');
  const target = /^[0-9a-f-]{36}$/i.test(userId) ? await context.prisma.user.findFirst({ where: { id: userId, organizationId: admin.organizationId } }) : null;
  if (!target) return { ok: false, message: 'No such user in this organization.' };
  try {
    if (intent === 'role') {
      if (!isUserRole(role)) return { ok: false, message: `Role must be one of ${USER_ROLES.join(', ')}.` };
      await changeUser(context.prisma, admin.organizationId, target.id, { role }, actor);
      return { ok: true, message: `${target.email} is now ${role}.` };
    }
    if (intent === 'disable' || intent === 'enable') {
      await changeUser(context.prisma, admin.organizationId, target.id, { disabled: intent === 'disable' }, actor);
      return { ok: true, message: intent === 'disable' ? `Disabled ${target.email}; their sessions are ended and they cannot sign in.` : `Re-enabled ${target.email}.` };
    }
  } catch (err) {
    if (err instanceof UserChangeRefused) return { ok: false, message: err.message };
    throw err;
  }
  return { ok: false, message: `Unknown action "${intent}".` };
}
