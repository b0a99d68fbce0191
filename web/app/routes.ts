// Route table (React Router framework mode). Plain objects rather than the
// helpers from @react-router/dev/routes, so the root tsconfig can check this
// file with its node10 resolution too.
export default [
  { path: 'login', file: 'routes/login.tsx' },
  { path: 'logout', file: 'routes/logout.tsx' },
  // A resource route (CSV download), outside the page layout.
  { path: 'audit.csv', file: 'routes/audit-csv.tsx' },
  { path: 'customers/:customerId/wallet.csv', file: 'routes/wallet-csv.tsx' },
  {
    id: 'layout',
    file: 'routes/layout.tsx',
    children: [
      { index: true, file: 'routes/overview.tsx' },
      { path: 'invoices', file: 'routes/invoices.tsx' },
      { path: 'invoices/:invoiceId', file: 'routes/invoice.tsx' },
      { path: 'invoices/:invoiceId/lines/:lineId', file: 'routes/invoice-line.tsx' },
      { path: 'customers', file: 'routes/customers.tsx' },
      { path: 'customers/:customerId', file: 'routes/customer.tsx' },
      { path: 'customers/:customerId/wallet', file: 'routes/wallet.tsx' },
      { path: 'runs', file: 'routes/runs.tsx' },
      { path: 'leaks', file: 'routes/leaks.tsx' },
      { path: 'alerts', file: 'routes/alerts.tsx' },
      { path: 'audit', file: 'routes/audit.tsx' },
      { path: 'settings', file: 'routes/settings.tsx' },
      { path: 'settings/alerts', file: 'routes/settings-alerts.tsx' },
      { path: 'settings/quotas', file: 'routes/settings-quotas.tsx' },
      { path: 'settings/rates', file: 'routes/settings-rates.tsx' },
      { path: 'settings/burn-rates', file: 'routes/settings-burn-rates.tsx' },
      { path: 'settings/unpriced', file: 'routes/settings-unpriced.tsx' },
      { path: 'settings/catalog', file: 'routes/settings-catalog.tsx' },
      { path: 'settings/plans', file: 'routes/settings-plans.tsx' },
      { path: 'settings/webhooks', file: 'routes/settings-webhooks.tsx' },
      { path: 'settings/ai-proxy', file: 'routes/settings-ai-proxy.tsx' },
      { path: 'settings/api-keys', file: 'routes/settings-api-keys.tsx' },
      { path: 'settings/users', file: 'routes/settings-users.tsx' },
    ],
  },
  // Last: any other path is a 404 page (not a thrown "no route matches", which is logged as an error).
  { path: '*', file: 'routes/not-found.tsx' },
];
