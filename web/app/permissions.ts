/**
 * Who may do what in the web app. The server checks these in every loader
 * and action (web/app/server/auth.server.ts); the pages use the same table
 * only to hide what a role cannot do.
 */
export type Role = 'admin' | 'finance' | 'ops' | 'viewer';

export type Permission =
  | 'read'
  | 'decide_invoices'
  | 'dismiss_leaks'
  | 'operate_runs'
  | 'run_reconciliations'
  | 'manage_users'
  | 'manage_api_keys'
  | 'manage_settings';

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'decide_invoices', 'dismiss_leaks', 'operate_runs', 'run_reconciliations', 'manage_users', 'manage_api_keys', 'manage_settings'],
  finance: ['read', 'decide_invoices', 'dismiss_leaks'],
  ops: ['read', 'operate_runs', 'run_reconciliations'],
  viewer: ['read'],
};

export function can(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}
