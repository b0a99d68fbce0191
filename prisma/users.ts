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
