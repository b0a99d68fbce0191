import { NavLink } from 'react-router';
import { can, type Permission, type Role } from '../permissions';
import { useSession } from './session';

/** The settings pages, each behind the permission its loader checks. */
const SETTINGS_PAGES: { to: string; label: string; permission: Permission }[] = [
  { to: '/settings', label: 'Organization', permission: 'manage_settings' },
  { to: '/settings/alerts', label: 'Alert channels', permission: 'manage_settings' },
  { to: '/settings/quotas', label: 'Quota limits', permission: 'manage_settings' },
  { to: '/settings/rates', label: 'Vendor rates', permission: 'manage_settings' },
  { to: '/settings/burn-rates', label: 'Credit burn rates', permission: 'manage_settings' },
  { to: '/settings/unpriced', label: 'Unpriced events', permission: 'manage_settings' },
  { to: '/settings/catalog', label: 'Catalog', permission: 'manage_settings' },
  { to: '/settings/plans', label: 'Plan features', permission: 'manage_settings' },
  { to: '/settings/webhooks', label: 'Webhooks', permission: 'manage_settings' },
  { to: '/settings/ai-proxy', label: 'AI proxy', permission: 'manage_settings' },
  { to: '/settings/api-keys', label: 'API keys', permission: 'manage_api_keys' },
  { to: '/settings/users', label: 'Users', permission: 'manage_users' },
];

/** Whether a role may open any settings page (the main nav shows "Settings" only then). */
export function canOpenSettings(role: Role): boolean {
  return SETTINGS_PAGES.some((p) => can(role, p.permission));
}

/** Where "Settings" in the main nav leads: the first settings page this role may open. */
export function settingsHome(role: Role): string {
  return SETTINGS_PAGES.find((p) => can(role, p.permission))?.to ?? '/settings';
}

const LIST_STYLE = { display: 'flex', flexWrap: 'wrap', gap: '4px 16px', listStyle: 'none', margin: '0 0 12px', padding: 0 } as const;

/** Sub-navigation at the top of every settings page; only the pages this role may open. */
export function SettingsNav() {
  const { role } = useSession().user;
  return (
    <nav aria-label="Settings">
      <ul style={LIST_STYLE}>
        {SETTINGS_PAGES.filter((p) => can(role, p.permission)).map((p) => (
          <li key={p.to}>
            <NavLink to={p.to} end>
              {p.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
