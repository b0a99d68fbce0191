import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliNotFoundMessage, findOrBuildTemporalCli, TemporalCliNotFound } from './cli';

// The discovery order: TEMPORAL_CLI_PATH, then PATH, then the Go build cache.
describe('findOrBuildTemporalCli', () => {
  const saved = { TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH, PATH: process.env.PATH };
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-cli-test-'));
  });
  afterEach(() => {
    process.env.PATH = saved.PATH;
    if (saved.TEMPORAL_CLI_PATH === undefined) delete process.env.TEMPORAL_CLI_PATH;
    else process.env.TEMPORAL_CLI_PATH = saved.TEMPORAL_CLI_PATH;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function fakeCli(name = 'temporal'): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    return file;
  }

  it('uses TEMPORAL_CLI_PATH first', async () => {
    const file = fakeCli('my-temporal');
    process.env.TEMPORAL_CLI_PATH = file;
    await expect(findOrBuildTemporalCli()).resolves.toEqual({ path: file, source: 'TEMPORAL_CLI_PATH' });
  });

  it('refuses a TEMPORAL_CLI_PATH that is not an executable, naming the variable', async () => {
    const file = path.join(dir, 'not-executable');
    fs.writeFileSync(file, 'x', { mode: 0o644 });
    process.env.TEMPORAL_CLI_PATH = file;
    await expect(findOrBuildTemporalCli()).rejects.toThrow(new TemporalCliNotFound(`TEMPORAL_CLI_PATH=${file} is not an executable file`));
  });

  it('then looks on PATH', async () => {
    delete process.env.TEMPORAL_CLI_PATH;
    const file = fakeCli();
    process.env.PATH = `${dir}${path.delimiter}${saved.PATH ?? ''}`;
    await expect(findOrBuildTemporalCli()).resolves.toEqual({ path: file, source: 'PATH' });
  });

  it('returns null (SDK download next) when neither a CLI nor Go can be found', async () => {
    delete process.env.TEMPORAL_CLI_PATH;
    process.env.PATH = dir; // empty directory: no temporal, no go
    await expect(findOrBuildTemporalCli()).resolves.toBeNull();
  });

  it('explains every way out when nothing works', () => {
    const message = cliNotFoundMessage('no go');
    for (const option of ['TEMPORAL_CLI_PATH', 'PATH', 'go install github.com/temporalio/cli/cmd/temporal@v1.5.1', 'internet', 'TEMPORAL_ADDRESS']) {
      expect(message).toContain(option);
    }
  });
});
