import { changeUser, createUser, UserChangeRefused } from '../prisma/users';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';

/**
 * Role changes and disabling (prisma/users.ts changeUser, behind the web
 * app's users page): audited, disabling ends sessions, and the organization
 * always keeps an enabled admin, even when two admins act at once.
 */
const actor = { type: 'user', id: 'root@users.test' } as const;

afterAll(async () => {
  await closeTestPrisma();
});

async function orgWith(...roles: ('admin' | 'finance')[]): Promise<{ organizationId: string; ids: string[] }> {
  const { organizationId } = await createTestOrganization('users-admin');
  const ids: string[] = [];
  for (const [i, role] of roles.entries()) {
    ids.push((await createUser(testPrisma(), { organizationId, email: `${role}-${i}@users.test`, role, password: 'users-password-1' }, actor)).id);
  }
  return { organizationId, ids };
}

it('disables a user, ends their sessions, re-enables them, and audits both', async () => {
  const prisma = testPrisma();
  const { organizationId, ids } = await orgWith('admin', 'finance');
  const finance = ids[1]!;
  await prisma.session.create({ data: { id: `s-${finance}`, userId: finance, expiresAt: new Date(Date.now() + 3600_000) } });
  await changeUser(prisma, organizationId, finance, { disabled: true }, actor);
  expect((await prisma.user.findUniqueOrThrow({ where: { id: finance } })).disabledAt).not.toBeNull();
  expect(await prisma.session.count({ where: { userId: finance } })).toBe(0);
  await changeUser(prisma, organizationId, finance, { disabled: false }, actor);
  expect((await prisma.user.findUniqueOrThrow({ where: { id: finance } })).disabledAt).toBeNull();
  const audit = await prisma.auditLog.findMany({ where: { organizationId, entityId: finance, action: { not: 'user.created' } }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => [a.action, a.actorType, a.actorId])).toEqual([
    ['user.disabled', 'user', actor.id],
    ['user.enabled', 'user', actor.id],
  ]);
});

it('refuses to demote or disable the last enabled admin', async () => {
  const prisma = testPrisma();
  const { organizationId, ids } = await orgWith('admin', 'finance');
  const admin = ids[0]!;
  await expect(changeUser(prisma, organizationId, admin, { role: 'finance' }, actor)).rejects.toThrow(UserChangeRefused);
  await expect(changeUser(prisma, organizationId, admin, { disabled: true }, actor)).rejects.toThrow('admin-0@users.test is the last admin');
  // With a second admin, the first may step down; the audit row has the roles before and after.
  await changeUser(prisma, organizationId, ids[1]!, { role: 'admin' }, actor);
  await changeUser(prisma, organizationId, admin, { role: 'finance' }, actor);
  const audit = await prisma.auditLog.findFirstOrThrow({ where: { organizationId, entityId: admin, action: 'user.role_changed' } });
  expect(audit).toMatchObject({ before: { role: 'admin' }, after: { role: 'finance' } });
  // A user of another organization is not found.
  const other = await orgWith('admin');
  await expect(changeUser(prisma, organizationId, other.ids[0]!, { role: 'viewer' }, actor)).rejects.toThrow('No such user in this organization.');
});

it('lets only one of two admins demoting each other at once succeed', async () => {
  const prisma = testPrisma();
  const { organizationId, ids } = await orgWith('admin', 'admin');
  const [a, b] = ids as [string, string];
  const results = await Promise.allSettled([
    changeUser(prisma, organizationId, a, { role: 'finance' }, actor),
    changeUser(prisma, organizationId, b, { role: 'finance' }, actor),
  ]);
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof UserChangeRefused)).toHaveLength(1);
  expect(await prisma.user.count({ where: { organizationId, role: 'admin', disabledAt: null } })).toBe(1);
});
