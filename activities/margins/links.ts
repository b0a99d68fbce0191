/**
 * Links a margin alert carries, so a person goes from the message to the
 * entity in the web app and to the Temporal run that raised it. Read from
 * the environment each time: the hosts differ per deployment, not per alert.
 */
export function webEntityUrl(scope: 'customer' | 'feature', scopeKey: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = trimSlash(env.WEB_BASE_URL?.trim() || 'http://127.0.0.1:3000');
  return scope === 'customer' ? `${base}/customers/${encodeURIComponent(scopeKey)}` : `${base}/margins?group_by=feature&feature=${encodeURIComponent(scopeKey)}`;
}

export function temporalRunUrl(namespace: string, workflowId: string, runId: string | null, env: NodeJS.ProcessEnv = process.env): string {
  const base = trimSlash(env.TEMPORAL_UI_URL?.trim() || 'http://127.0.0.1:8233');
  const run = `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${run}/${encodeURIComponent(runId)}` : run;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
