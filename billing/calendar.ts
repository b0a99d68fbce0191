/** UTC calendar days: snapshots are per UTC day and day-mode proration counts them. */
const DAY_MS = 86_400_000;

/** "2024-11-21" */
export function formatDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Midnight UTC of `at`'s day. */
export function startOfUtcDay(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}

/** The first UTC midnight strictly after `at`. */
export function nextUtcMidnight(at: Date): Date {
  return new Date(startOfUtcDay(at).getTime() + DAY_MS);
}

/** Every UTC day that overlaps [start, end), as midnights. */
export function utcDaysIn(start: Date, end: Date): Date[] {
  const days: Date[] = [];
  for (let t = startOfUtcDay(start).getTime(); t < end.getTime(); t += DAY_MS) days.push(new Date(t));
  return days;
}
