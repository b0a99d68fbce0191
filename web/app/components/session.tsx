import { useRouteLoaderData } from 'react-router';
import { can, type Permission } from '../permissions';
import type { loader } from '../routes/layout';

/** The signed-in user and this session's CSRF token, for any page under the layout. */
export function useSession() {
  const session = useRouteLoaderData<typeof loader>('layout');
  if (!session) throw new Error('useSession outside the signed-in layout');
  return session;
}

/** Whether the signed-in user's role allows it: for hiding controls only, the server decides. */
export function useCan(permission: Permission): boolean {
  return can(useSession().user.role, permission);
}

export function CsrfField() {
  return <input type="hidden" name="csrf" value={useSession().csrf} />;
}
