/**
 * An action's outcome, announced politely: success as a status, failure as
 * an alert. The live region is always rendered, so screen readers notice
 * when a message appears in it.
 */
export function OutcomeNotice({ outcome, children }: { outcome: { ok: boolean; message: string } | undefined; children?: React.ReactNode }) {
  return (
    <div aria-live="polite">
      {outcome ? (
        <p className={`notice ${outcome.ok ? 'ok' : 'error'}`} role={outcome.ok ? 'status' : 'alert'}>
          {outcome.message}
        </p>
      ) : null}
      {children}
    </div>
  );
}
