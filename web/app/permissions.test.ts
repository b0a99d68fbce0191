import { can } from './permissions';

describe('web roles', () => {
  it('lets admin and finance decide invoices, and nobody else', () => {
    expect(['admin', 'finance', 'ops', 'viewer'].filter((r) => can(r as 'admin', 'decide_invoices'))).toEqual(['admin', 'finance']);
  });

  it('lets finance dismiss leaks and ops run reconciliations, with admin doing both', () => {
    const holders = (p: Parameters<typeof can>[1]) => (['admin', 'finance', 'ops', 'viewer'] as const).filter((r) => can(r, p));
    expect(holders('dismiss_leaks')).toEqual(['admin', 'finance']);
    expect(holders('run_reconciliations')).toEqual(['admin', 'ops']);
    expect(holders('operate_runs')).toEqual(['admin', 'ops']);
  });

  it('keeps users, API keys and settings to admin', () => {
    for (const p of ['manage_users', 'manage_api_keys', 'manage_settings'] as const) {
      expect((['admin', 'finance', 'ops', 'viewer'] as const).filter((r) => can(r, p))).toEqual(['admin']);
    }
  });

  it('lets every role read, and only admin manage users', () => {
    for (const role of ['admin', 'finance', 'ops', 'viewer'] as const) expect(can(role, 'read')).toBe(true);
    expect(can('finance', 'manage_users')).toBe(false);
    expect(can('admin', 'manage_users')).toBe(true);
  });
});
