import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SDK_PYTHON_DIR, sdkPython } from '../scripts/lib/sdk-python';
import { startTestApi, type TestApi } from './api-test-app';
import { ANTHROPIC_UPSTREAM_KEY, OPENAI_UPSTREAM_KEY, startFakeLlmUpstream, type FakeLlmUpstream } from './harness/fake-llm-upstream';
import { closeTestPrisma, createTestOrganization } from './harness/fixtures';
import { runCommand } from './harness/run-command';
import { skippedDescribe } from './harness/skips';

/*
 * The Python SDK (packages/sdk-python, issue 16 point 11): its pytest suite, run in the virtual environment
 * `npm run setup` makes, against a real API and PostgreSQL started here, with the vendors' own Python clients
 * talking to the local fake of both vendors; and its wheel, built and installed into a fresh environment.
 */

jest.setTimeout(180_000);

const python = sdkPython();
const describeWithPython = python
  ? describe
  : skippedDescribe({ suite: 'sdk-python', reason: 'the Python SDK tools (pytest, datamodel-code-generator) are not installed', enable: 'install python3 with venv and pip, then npm run setup' });

const run = (command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, ...options });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
};

describeWithPython('the Python SDK', () => {
  let api: TestApi;
  let small: TestApi;
  let upstream: FakeLlmUpstream;

  beforeAll(async () => {
    api = await startTestApi();
    small = await startTestApi({ bodyLimit: '4kb' }); // for the test of posts too large
    upstream = await startFakeLlmUpstream();
  });

  afterAll(async () => {
    await upstream.close();
    await api.close();
    await small.close();
    await closeTestPrisma();
  });

  test('its pytest suite passes against the real API', async () => {
    const org = await createTestOrganization('sdk-python');
    const pytest = await runCommand(python!, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
      cwd: SDK_PYTHON_DIR,
      timeoutMs: 150_000,
      env: {
        ...process.env,
        LEDGERFLOW_API_URL: api.base,
        LEDGERFLOW_SMALL_API_URL: small.base,
        LEDGERFLOW_API_KEY: org.apiKey,
        LEDGERFLOW_LLM_URL: upstream.url,
        OPENAI_API_KEY: OPENAI_UPSTREAM_KEY,
        ANTHROPIC_API_KEY: ANTHROPIC_UPSTREAM_KEY,
        PYTHONDONTWRITEBYTECODE: '1',
      },
    });
    const output = pytest.stdout + pytest.stderr;
    if (pytest.status !== 0) process.stderr.write(output);
    expect(pytest.status).toBe(0);
    // Every test ran: none skipped or deselected.
    expect(output).toMatch(/^\d+ passed in [\d.]+s/m);
    expect(output).not.toMatch(/\b\d+ (skipped|deselected|failed|errors?)\b/);
  });

  test('its wheel builds with no dependencies and installs into a fresh environment', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-wheel-'));
    try {
      const built = run(python!, ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--disable-pip-version-check', '-q', '-w', dir, SDK_PYTHON_DIR]);
      expect(built.output).toBe('');
      const wheel = fs.readdirSync(dir).find((f) => f.endsWith('.whl'));
      expect(wheel).toMatch(/^ledgerflow-0\.1\.0-py3-none-any\.whl$/);
      const listed = run(python!, ['-m', 'zipfile', '-l', path.join(dir, wheel!)]).output;
      for (const file of ['ledgerflow/__init__.py', 'ledgerflow/models.py', 'ledgerflow/ai.py', 'ledgerflow/py.typed']) expect(listed).toContain(file);
      expect(listed).not.toContain('tests/');
      const metadata = run(python!, ['-c', `import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(z.read('ledgerflow-0.1.0.dist-info/METADATA').decode())`, path.join(dir, wheel!)]).output;
      expect(metadata).toContain('Requires-Python: >=3.11');
      expect(metadata).not.toContain('Requires-Dist');

      const venv = path.join(dir, 'venv');
      expect(run(python!, ['-m', 'venv', venv]).status).toBe(0);
      const installed = run(path.join(venv, 'bin', 'pip'), ['install', '--no-index', '--disable-pip-version-check', '-q', path.join(dir, wheel!)]);
      expect(installed).toEqual({ status: 0, output: '' });
      const imported = run(path.join(venv, 'bin', 'python'), ['-c', 'import ledgerflow, ledgerflow.models; print(ledgerflow.__version__, ledgerflow.Ledgerflow.__name__)'], { cwd: dir });
      expect(imported).toEqual({ status: 0, output: '0.1.0 Ledgerflow\n' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
