import { can } from './permissions';

describe('web roles', () => {
  it('lets admin and finance decide invoices, and nobody else', () => {
    expect(['admin', 'finance', 'ops', 'viewer'].filter((r) => can(r as 'admin', 'decide_invoices'))).toEqual(['admin', 'finance']);
  });

  it('lets every role read, and only admin manage users', () => {
    for (const role of ['admin', 'finance', 'ops', 'viewer'] as const) expect(can(role, 'read')).toBe(true);
    expect(can('finance', 'manage_users')).toBe(false);
    expect(can('admin', 'manage_users')).toBe(true);
  });
});
