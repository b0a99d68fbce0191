import { redirect, type ActionFunctionArgs } from 'react-router';
import { requireFormAction, signOut } from '../server/auth.server';

export async function action({ request, context }: ActionFunctionArgs) {
  await requireFormAction(request, context, 'read');
  throw redirect('/login', { headers: { 'Set-Cookie': await signOut(request, context) } });
}

export function loader() {
  return redirect('/');
}
