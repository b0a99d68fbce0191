import type { LoaderFunctionArgs } from 'react-router';
import { auditCsv, parseAuditFilter } from '../audit-filter';
import { csvResponse, fileStamp } from '../csv';
import { requireUser } from '../server/auth.server';
import { readAuditExport } from '../server/audit.server';

/** GET /audit.csv?…: the audit page's filter, every matching row as CSV (a resource route: no page). */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const { filter, problems } = parseAuditFilter(new URL(request.url).searchParams);
  if (problems.length > 0) {
    return new Response(`${problems.map((p) => p.message).join('\n')}\n`, { status: 400, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  const { rows, truncated } = await readAuditExport(context, user.organizationId, filter);
  return csvResponse(auditCsv(rows), `ledgerflow-audit-${fileStamp()}.csv`, rows.length, truncated);
}
