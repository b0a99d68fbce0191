import { useEffect } from 'react';
import { useRevalidator } from 'react-router';

/** How often a polling page reloads its loader data. */
export const POLL_MS = 3000;

/**
 * Re-runs the page's loaders every `intervalMs` while `active`, so status
 * changes show without a manual reload. A tick is skipped while a
 * revalidation is under way.
 */
export function usePolling(active = true, intervalMs = POLL_MS): void {
  const { revalidate, state } = useRevalidator();
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      if (state === 'idle') void revalidate();
    }, intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs, revalidate, state]);
}
