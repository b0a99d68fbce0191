/**
 * The flags Node runs the API with, however it is started (`npm start`, `npm run api`, the Docker image, docker
 * compose, the test harness; api/node-flags.test.ts checks each). A bounded old generation makes V8 collect it
 * while it is small instead of letting it grow with garbage between full collections: measured in
 * `npm run bench:ingest`, the API's peak RSS went from 298–357 MiB to 218–232 MiB with no CPU cost per event
 * beyond the noise (BENCHMARKS.md). The body budget (api/body-budget.ts) keeps what requests hold well inside it:
 * a bound is also where too much live data ends the process, so it must not be lowered below what the budget's
 * heaviest bodies hold (~90 MiB) plus the process's own ~70 MiB.
 */
export const API_OLD_SPACE_MIB = 256;
export const API_NODE_FLAGS: readonly string[] = [`--max-old-space-size=${API_OLD_SPACE_MIB}`];

/** `node` arguments to run a TypeScript entry point: the API's flags for the API, then tsx. */
export function nodeArgs(file: string): string[] {
  return [...(/(^|[\\/])api[\\/]main\.ts$/.test(file) ? API_NODE_FLAGS : []), '--import', 'tsx', file];
}
