import { data, type LoaderFunctionArgs } from 'react-router';
import { dec, toPlainString } from '../../../billing/decimal';
import { csvResponse, fileStamp, toCsv } from '../csv';
import { requireUser } from '../server/auth.server';
import { LEDGER_CSV_COLUMNS, readWalletExport } from '../server/wallet.server';

/** GET /customers/:customerId/wallet.csv?kind=…: the wallet's ledger entries as CSV, oldest first (a resource route: no page). */
export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const exported = await readWalletExport(context, user.organizationId, params.customerId, new URL(request.url).searchParams);
  if (!exported) throw data('No such customer in your organization.', { status: 404 });
  const csv = toCsv(
    LEDGER_CSV_COLUMNS,
    exported.rows.map((e) => [e.id, e.created_at.toISOString(), e.kind, e.key, e.event_id ?? '', e.grant_id, e.debit, e.credit, toPlainString(dec(e.amount))]),
  );
  return csvResponse(csv, `ledgerflow-credits-${exported.externalId}-${fileStamp()}.csv`, exported.rows.length, exported.truncated);
}
