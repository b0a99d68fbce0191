// Jest reporter: after the run's summary, one block listing every suite that
// was skipped for a missing runtime and the command that enables it (the
// suites record themselves through test/harness/skips.ts). Plain CommonJS:
// Jest loads reporters without the TypeScript transform.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

class SkipReporter {
  constructor() {
    this.file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-skips-')), 'skips.jsonl');
    // Test workers are started after reporters and inherit this.
    process.env.LEDGERFLOW_SKIPS_FILE = this.file;
  }

  onRunComplete() {
    const lines = fs.existsSync(this.file) ? fs.readFileSync(this.file, 'utf8').split('\n').filter(Boolean) : [];
    fs.rmSync(path.dirname(this.file), { recursive: true, force: true });
    const seen = new Map();
    for (const line of lines) {
      const skip = JSON.parse(line);
      seen.set(skip.suite, skip);
    }
    if (seen.size === 0) return;
    const out = ['', `Skipped for a missing runtime (${seen.size} suite${seen.size === 1 ? '' : 's'}); these tests proved nothing on this machine:`];
    for (const skip of seen.values()) out.push(`  - ${skip.suite}: ${skip.reason}`, `      to run it: ${skip.enable}`);
    out.push('  CI (.ci/run) provisions all of them and fails instead of skipping (LEDGERFLOW_FORBID_SKIPS=1).', '');
    // Jest's own summary prints after every reporter's onRunComplete: this block goes last, at exit
    // (synchronously, so it is not lost when Jest exits with a pipe for stderr).
    process.once('exit', () => fs.writeSync(2, `${out.join('\n')}\n`));
  }
}

module.exports = SkipReporter;
