import { writeAudit, type AuditActor } from './audit';
import type { PrismaClient } from './generated/client';
import { generatePassword, hashPassword } from './passwords';

export const USER_ROLES = ['admin', 'finance', 'ops', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export function isUserRole(value: string): value is UserRole {
  return (USER_ROLES as readonly string[]).includes(value);
}

/** Emails are compared lower-case: "Fiona@X" and "fiona@x" are one account. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Creates a web user with a generated password, returned once (only its hash
 * is stored). Audited like every other change.
 */
export async function createUser(
  prisma: PrismaClient,
  input: { organizationId: string; email: string; role: UserRole; password?: string },
  actor: AuditActor,
): Promise<{ id: string; email: string; password: string }> {
  const password = input.password ?? generatePassword();
  const email = normalizeEmail(input.email);
  const passwordHash = await hashPassword(password);
  const user = await prisma.$transaction(async (tx) => {
    const created = await tx.user.create({ data: { organizationId: input.organizationId, email, role: input.role, passwordHash } });
    await writeAudit(tx, { organizationId: input.organizationId, actor, action: 'user.created', entityType: 'user', entityId: created.id, after: { email, role: input.role } });
    return created;
  });
  return { id: user.id, email, password };
}

/** A change that would leave the organization without an enabled admin, or a user not found. */
export class UserChangeRefused extends Error {}

type UserChange = { role: UserRole } | { disabled: boolean };

/**
 * Changes a user's role, or disables / re-enables them (disabling ends their
 * sessions). Audited. Refuses to demote or disable the organization's last
 * enabled admin: the org's enabled admin rows are locked first, so two
 * admins demoting each other at once cannot both succeed.
 */
export async function changeUser(prisma: PrismaClient, organizationId: string, userId: string, change: UserChange, actor: AuditActor): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const admins = await tx.$queryRaw<{ id: string }[]>`
      SELECT id::text FROM users WHERE organization_id = ${organizationId}::uuid AND role = 'admin' AND disabled_at IS NULL FOR UPDATE`;
    const user = await tx.user.findFirst({ where: { id: userId, organizationId } });
    if (!user) throw new UserChangeRefused('No such user in this organization.');
    const losesAdmin = user.role === 'admin' && !user.disabledAt && ('role' in change ? change.role !== 'admin' : change.disabled);
    if (losesAdmin && admins.length <= 1) throw new UserChangeRefused(`${user.email} is the last admin; make someone else admin first.`);
    if ('role' in change) {
      if (change.role === user.role) return;
      await tx.user.update({ where: { id: user.id }, data: { role: change.role } });
      await writeAudit(tx, { organizationId, actor, action: 'user.role_changed', entityType: 'user', entityId: user.id, before: { role: user.role }, after: { role: change.role } });
      return;
    }
    if (change.disabled === !!user.disabledAt) return;
    await tx.user.update({ where: { id: user.id }, data: { disabledAt: change.disabled ? new Date() : null } });
    if (change.disabled) await tx.session.deleteMany({ where: { userId: user.id } });
    await writeAudit(tx, { organizationId, actor, action: change.disabled ? 'user.disabled' : 'user.enabled', entityType: 'user', entityId: user.id, after: { email: user.email } });
  });
}
