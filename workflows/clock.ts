/**
 * The workflow's clock. Inside Temporal's workflow sandbox `Date` is
 * deterministic: it reads the time of the current workflow task, the same on
 * every replay, and moves with time skipping in tests. The lint rule that
 * bans `Date.now` in workflows (it is easy to misread as wall-clock time)
 * allows it here only.
 */
export function now(): number {
  // eslint-disable-next-line no-restricted-properties
  return Date.now();
}
