/**
 * An action's outcome, announced politely: success as a status, failure as
 * an alert. The live region is always rendered, so screen readers notice
 * when a message appears in it. An outcome that started a workflow links to
 * it in the Temporal UI.
 */
export function OutcomeNotice({ outcome, children }: { outcome: { ok: boolean; message: string; workflowId?: string; temporalUrl?: string } | undefined; children?: React.ReactNode }) {
  return (
    <div aria-live="polite">
      {outcome ? (
        <p className={`notice ${outcome.ok ? 'ok' : 'error'}`} role={outcome.ok ? 'status' : 'alert'}>
          {outcome.message}
        </p>
      ) : null}
      {outcome?.temporalUrl ? (
        <p>
          <a href={outcome.temporalUrl}>Open {outcome.workflowId} in the Temporal UI</a>
        </p>
      ) : null}
      {children}
    </div>
  );
}
