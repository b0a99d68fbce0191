/** A half-open stretch of time, [start, end). */
export interface TimeRange {
  start: Date;
  end: Date;
}

/**
 * The parts of `range` that none of `taken` covers, oldest first. A period's
 * usage line claims these: a stretch another line already claimed (another
 * subscription of the same customer pricing the same events) stays that line's.
 */
export function uncoveredRanges(range: TimeRange, taken: readonly TimeRange[]): TimeRange[] {
  const parts: TimeRange[] = [];
  let from = range.start.getTime();
  const end = range.end.getTime();
  for (const t of [...taken].sort((a, b) => a.start.getTime() - b.start.getTime())) {
    if (from >= end) break;
    if (t.end.getTime() <= from || t.start.getTime() >= end) continue;
    if (t.start.getTime() > from) parts.push({ start: new Date(from), end: t.start });
    from = Math.max(from, t.end.getTime());
  }
  if (from < end) parts.push({ start: new Date(from), end: new Date(end) });
  return parts;
}
