import fs from 'node:fs';

/*
 * Suites that cannot run on this machine for want of a runtime (Chromium,
 * Java, python3). Each skip is printed where it happens and written to the
 * file test/harness/skip-reporter.js names, which lists them all in one block
 * at the end of the run with the command that enables each. Under
 * LEDGERFLOW_FORBID_SKIPS=1 (.ci/run) a skip is a failure instead: a skipped
 * suite proves nothing.
 */

export const SKIPS_FILE_VARIABLE = 'LEDGERFLOW_SKIPS_FILE';

export interface Skip {
  /** the suite, e.g. "web-browser" */
  suite: string;
  /** why it cannot run here */
  reason: string;
  /** what makes it run */
  enable: string;
}

/** `describe.skip` for a suite whose runtime is missing, recorded; throws under LEDGERFLOW_FORBID_SKIPS=1. */
export function skippedDescribe(skip: Skip): typeof describe.skip {
  if (process.env.LEDGERFLOW_FORBID_SKIPS === '1') throw new Error(`[${skip.suite}] cannot run: ${skip.reason} (${skip.enable})`);
  process.stderr.write(`[${skip.suite}] skipping: ${skip.reason}\n`);
  const file = process.env[SKIPS_FILE_VARIABLE];
  if (file) fs.appendFileSync(file, `${JSON.stringify(skip)}\n`);
  return describe.skip;
}
