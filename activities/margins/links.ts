/**
 * Links an alert carries, so a person goes from the message to the entity in
 * the web app and to the Temporal run that raised it. Read from the
 * environment each time: the hosts differ per deployment, not per alert.
 * WEB_BASE_URL defaults to the web app `npm start` serves.
 */
function webBase(env: NodeJS.ProcessEnv): string {
  return trimSlash(env.WEB_BASE_URL?.trim() || 'http://127.0.0.1:3001');
}

/** A customer's page; a feature has no page of its own, so its alerts page (where the margin alert is listed). */
export function webEntityUrl(scope: 'customer' | 'feature', scopeKey: string, env: NodeJS.ProcessEnv = process.env): string {
  return scope === 'customer' ? `${webBase(env)}/customers/${encodeURIComponent(scopeKey)}` : `${webBase(env)}/alerts`;
}

/** The leaks page with the finding highlighted and scrolled to. */
export function webFindingUrl(findingId: string, env: NodeJS.ProcessEnv = process.env): string {
  const id = encodeURIComponent(findingId);
  return `${webBase(env)}/leaks?finding=${id}#finding-${id}`;
}

export function temporalRunUrl(namespace: string, workflowId: string, runId: string | null, env: NodeJS.ProcessEnv = process.env): string {
  const base = trimSlash(env.TEMPORAL_UI_URL?.trim() || 'http://127.0.0.1:8233');
  const run = `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${run}/${encodeURIComponent(runId)}` : run;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
