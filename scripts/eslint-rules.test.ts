import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * Proves the lint rules in eslint.config.mjs bite, by linting fixture strings
 * with ESLint's Node API under virtual paths. ESLint loads its config with
 * import(), which Jest's CommonJS runtime does not support, so the API runs
 * in a plain node child. Virtual files are not in tsconfig's file list; the
 * override gives them TypeScript's default project so type-aware rules run.
 */
const ROOT = path.resolve(__dirname, '..');
const RUNNER = `
import { ESLint } from 'eslint';
const fixtures = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (d) => (text += d));
  process.stdin.on('end', () => resolve(text));
}));
const eslint = new ESLint({
  overrideConfig: {
    files: ['**/__lint_fixture__.ts'],
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['*/__lint_fixture__.ts'] } } },
  },
});
const out = [];
for (const f of fixtures) {
  const [result] = await eslint.lintText(f.code, { filePath: f.filePath });
  out.push(result.messages.map((m) => ({ rule: m.ruleId, line: m.line, message: m.message })));
}
process.stdout.write(JSON.stringify(out));
`;

interface Message {
  rule: string | null;
  line: number;
  message: string;
}

function lint(fixtures: { filePath: string; code: string }[]): Message[][] {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', RUNNER], {
    cwd: ROOT,
    input: JSON.stringify(fixtures),
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`eslint runner failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Message[][];
}

const workflowFixture = [
  "import fs from 'fs';", // 1
  "import { readFile } from 'node:fs/promises';", // 2
  "import { createActivities } from '../activities';", // 3
  "import type { Activities } from '../activities/types';", // 4
  'export function wf(at: number, t?: Activities): number {', // 5
  '  const r = Math.random();', // 6
  '  const n = Date.now();', // 7
  '  const d = new Date();', // 8
  '  const given = new Date(at);', // 9
  '  setInterval(() => undefined, 5);', // 10
  '  const id = crypto.randomUUID();', // 11
  '  const env = process.env.X;', // 12
  '  const p = performance.now();', // 13
  '  void fs; void readFile; void createActivities; void t;', // 14
  '  return r + n + d.getTime() + given.getTime() + id.length + (env ?? "").length + p;', // 15
  '}',
].join('\n');

const serviceFixture = [
  "import fs from 'node:fs';", // 1
  'async function work(): Promise<void> { await fs.promises.readFile("x"); }', // 2
  'export function run(): void {', // 3
  '  work();', // 4
  '  [1].forEach(async () => { await work(); });', // 5
  '  const stamp = Date.now() + Math.random();', // 6
  '  void stamp;', // 7
  '}',
].join('\n');

const layeringFixture = [
  "import { ApiError } from '../api/errors';", // 1
  "import { trace } from '@opentelemetry/api';", // 2
  "import { QUOTA_MODES } from '../billing/quota';", // 3
  'export const used = [ApiError, trace, QUOTA_MODES];', // 4
  "import { createActivities } from '../activities';", // 5
  "import { postOutbound } from '../activities/outbound/http';", // 6
  'export const reads = [createActivities, postOutbound];', // 7
].join('\n');

const onLine = (messages: Message[], line: number): Message[] => messages.filter((m) => m.line === line);

describe('eslint.config.mjs', () => {
  let workflow: Message[];
  let service: Message[];
  let webPage: Message[];
  let apiRoute: Message[];

  beforeAll(() => {
    [workflow = [], service = [], webPage = [], apiRoute = []] = lint([
      { filePath: 'workflows/__lint_fixture__.ts', code: workflowFixture },
      { filePath: 'activities/__lint_fixture__.ts', code: serviceFixture },
      { filePath: 'web/__lint_fixture__.ts', code: layeringFixture },
      { filePath: 'api/__lint_fixture__.ts', code: layeringFixture },
    ]);
  }, 120_000);

  it('reports api/ imports in the web app (DESIGN.md layering), not packages named api nor billing/, and lets api/ import itself', () => {
    expect(onLine(webPage, 1)).toEqual([expect.objectContaining({ rule: 'no-restricted-imports', message: expect.stringContaining('services/') })]);
    expect(onLine(webPage, 2)).toEqual([]);
    expect(onLine(webPage, 3)).toEqual([]);
    expect(apiRoute.filter((m) => m.line <= 4 && (m.rule === 'no-restricted-imports' || m.rule === null))).toEqual([]);
  });

  it('reports activities/ imports in the API and the web app: reads go through services/, rules through billing/', () => {
    for (const messages of [webPage, apiRoute]) {
      for (const line of [5, 6]) {
        expect(onLine(messages, line)).toEqual([expect.objectContaining({ rule: 'no-restricted-imports', message: expect.stringContaining('activities/ are the worker') })]);
      }
    }
  });


  it('reports Node built-in imports in workflows/, with and without node:', () => {
    expect(onLine(workflow, 1)).toEqual([expect.objectContaining({ rule: '@typescript-eslint/no-restricted-imports', message: expect.stringContaining('Node built-ins') })]);
    expect(onLine(workflow, 2)).toEqual([expect.objectContaining({ rule: '@typescript-eslint/no-restricted-imports' })]);
  });

  it('reports value imports of activities in workflows/ but allows `import type`', () => {
    expect(onLine(workflow, 3)).toEqual([expect.objectContaining({ rule: '@typescript-eslint/no-restricted-imports', message: expect.stringContaining('import type') })]);
    expect(onLine(workflow, 4)).toEqual([]);
  });

  it.each([
    [6, 'no-restricted-properties', 'uuid4'],
    [7, 'no-restricted-properties', 'workflowInfo'],
    [8, 'no-restricted-syntax', 'workflowInfo'],
    [10, 'no-restricted-globals', 'sleep'],
    [11, 'no-restricted-globals', 'uuid4'],
    [12, 'no-restricted-globals', 'workflowInfo'],
    [13, 'no-restricted-properties', 'sleep'],
  ])('reports the non-deterministic call on line %i of the workflow fixture (%s)', (line, rule, hint) => {
    expect(onLine(workflow, line)).toContainEqual(expect.objectContaining({ rule, message: expect.stringContaining(hint) }));
  });

  it('allows a Date built from a given time in workflows/', () => {
    expect(onLine(workflow, 9)).toEqual([]);
  });

  it('reports floating and misused promises outside workflows/, and allows Node built-ins and clocks there', () => {
    expect(onLine(service, 4)).toEqual([expect.objectContaining({ rule: '@typescript-eslint/no-floating-promises' })]);
    expect(onLine(service, 5)).toEqual([expect.objectContaining({ rule: '@typescript-eslint/no-misused-promises' })]);
    expect(onLine(service, 1)).toEqual([]);
    expect(onLine(service, 6)).toEqual([]);
  });
});
