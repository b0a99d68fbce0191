import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyPassword } from '../prisma/passwords';
import { DEMO_USERS, seedDemoUsers } from '../prisma/seed';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';

/** The first web users: from the demo seed (passwords kept in .data-style files) and from the admin command. */
const ROOT = path.resolve(__dirname, '..');
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-web-users-'));
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await closeTestPrisma();
});

function admin(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], { cwd: ROOT, env: process.env, encoding: 'utf8', timeout: 60_000 });
}

describe('demo web users', () => {
  it('seeds admin, finance and viewer once, each with a working password in a 0600 file', async () => {
    // A test organization rather than "Demo Co": the seed test owns that one.
    const { organizationId } = await createTestOrganization('web-seed');
    const first = await seedDemoUsers(testPrisma(), organizationId, dir);
    expect(first.map((u) => [u.email, u.role, u.created])).toEqual(DEMO_USERS.map((u) => [u.email, u.role, true]));
    expect(first.find((u) => u.role === 'admin')!.passwordFile).toBe(path.join(dir, 'demo-admin-password'));
    for (const u of first) {
      const password = fs.readFileSync(u.passwordFile, 'utf8').trim();
      expect((fs.statSync(u.passwordFile).mode & 0o777).toString(8)).toBe('600');
      const user = await testPrisma().user.findFirstOrThrow({ where: { organizationId, email: u.email } });
      expect(user.role).toBe(u.role);
      expect(user.passwordHash).not.toContain(password);
      await expect(verifyPassword(password, user.passwordHash)).resolves.toBe(true);
    }
    const before = fs.readFileSync(path.join(dir, 'demo-finance-password'), 'utf8');
    const second = await seedDemoUsers(testPrisma(), organizationId, dir);
    expect(second.every((u) => !u.created)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'demo-finance-password'), 'utf8')).toBe(before);
    expect(await testPrisma().user.count({ where: { organizationId } })).toBe(DEMO_USERS.length);

    // A lost password file gets a new password that works; the user stays the same row.
    fs.rmSync(path.join(dir, 'demo-viewer-password'));
    const third = await seedDemoUsers(testPrisma(), organizationId, dir);
    const viewer = await testPrisma().user.findFirstOrThrow({ where: { organizationId, email: 'viewer@demo.test' } });
    await expect(verifyPassword(fs.readFileSync(third.find((u) => u.role === 'viewer')!.passwordFile, 'utf8').trim(), viewer.passwordHash)).resolves.toBe(true);
    expect(await testPrisma().user.count({ where: { organizationId } })).toBe(DEMO_USERS.length);
  });
});

describe('admin create-user', () => {
  it('creates a user and prints a working password once, on the last line', async () => {
    const { organizationId, name } = await createTestOrganization('web-users');
    const email = `Ops-${randomUUID().slice(0, 8)}@Example.test`;
    const created = admin('create-user', '--org', name, '--email', email, '--role', 'ops');
    expect(created.status).toBe(0);
    const password = created.stdout.trim().split('\n').pop()!;
    const user = await testPrisma().user.findFirstOrThrow({ where: { organizationId, email: email.toLowerCase() } });
    expect(user.role).toBe('ops');
    await expect(verifyPassword(password, user.passwordHash)).resolves.toBe(true);
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, entityType: 'user', entityId: user.id } });
    expect(audit).toMatchObject({ action: 'user.created', actorType: 'system', actorId: 'admin-cli' });

    const again = admin('create-user', '--org', name, '--email', email.toLowerCase(), '--role', 'viewer');
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('already has a user');
    const badRole = admin('create-user', '--org', name, '--email', 'x@example.test', '--role', 'owner');
    expect(badRole.status).toBe(2);
    expect(badRole.stderr).toContain('--role must be one of admin, finance, ops, viewer');
  });
});
