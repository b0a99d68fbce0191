import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { sdkPython } from '../scripts/lib/sdk-python';
import { skippedDescribe } from './harness/skips';

/*
 * The SDKs' types are generated from the API's OpenAPI document (`npm run sdk:generate`: openapi-typescript for
 * TypeScript, datamodel-code-generator for Python). A route or schema change that is not regenerated fails here,
 * naming the file to regenerate. (openapi-typescript is ESM, which Jest on Node 20 cannot load: the check runs as
 * the command it is.)
 */

const describeWithPython = sdkPython()
  ? describe
  : skippedDescribe({ suite: 'sdk-generated', reason: 'the Python SDK tools (datamodel-code-generator) are not installed', enable: 'install python3 with venv and pip, then npm run setup' });

describeWithPython('the SDKs\' generated types', () => {
  test('are what `npm run sdk:generate` writes from the API as it is', () => {
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/sdk-generate.ts', '--check'], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.stdout.trim().split('\n')).toEqual([
      'packages/openapi.json: current',
      'packages/sdk-typescript/src/generated/openapi.ts: current',
      'packages/sdk-python/src/ledgerflow/models.py: current',
    ]);
    expect(check.status).toBe(0);
  });
});
