// ESLint 9 flat config. Type-aware only where it matters (floating and
// misused promises), so the whole repo lints in seconds on two cores.
// workflows/ gets Temporal's determinism rules on top.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const TS = ['**/*.ts', '**/*.tsx', '**/*.mts', '**/*.cts'];
const WORKFLOWS = ['workflows/**/*.{ts,mts,cts,js,mjs}'];

const nodeBuiltins = [...new Set(builtinModules.flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`])))];
const NO_API = {
  group: ['**/api', '**/api/**', '!**/@*/**'],
  message: 'Only the API process imports api/. Put what the web app (or anything below the API) shares with it in services/ (DESIGN.md, Layout).',
};
const NO_ACTIVITIES = {
  group: ['**/activities', '**/activities/**'],
  message: 'activities/ are the worker\'s. Reads the API and the web app share belong in services/ (or prisma/ when activities read them too), pure rules in billing/ (DESIGN.md, Layout).',
};
const sandbox = 'Workflow code runs in Temporal\'s deterministic sandbox and is replayed';

export default tseslint.config(
  { ignores: ['node_modules/**', 'prisma/generated/**', '.data/**', 'coverage/**', 'web/build/**', 'web/.react-router/**', 'test-artifacts/**', 'packages/sdk-typescript/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: TS,
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  // CommonJS files (jest.config.js, the Jest reporter) load modules with require.
  { files: ['**/*.js', '**/*.cjs'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
  // The web app's pages also run in the browser.
  { files: ['web/app/**/*.{ts,tsx}'], languageOptions: { globals: { ...globals.browser } } },
  // Layering (DESIGN.md): nothing imports the API; the web app and the services below it share services/,
  // so a route and a loader never copy each other.
  {
    files: ['web/**/*.{ts,tsx}', 'services/**/*.ts', 'prisma/**/*.ts', 'billing/**/*.ts', 'activities/**/*.ts', 'workflows/**/*.ts', 'temporal/**/*.ts', 'worker/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_API] }] },
  },
  // The API and the web app reach the database through services/ (reads included) and pure rules through billing/:
  // activities/ belong to the worker (DESIGN.md, Layout).
  { files: ['web/**/*.{ts,tsx}', 'services/**/*.ts', 'proxy/**/*.ts'], ignores: ['**/*.test.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [NO_API, NO_ACTIVITIES] }] } },
  { files: ['api/**/*.ts'], ignores: ['**/*.test.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [NO_ACTIVITIES] }] } },
  {
    files: WORKFLOWS,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: `Node built-ins are not available in workflows (${sandbox}). Do I/O in an activity and call it with proxyActivities.`,
          })),
          patterns: [
            {
              group: ['**/activities', '**/activities/**'],
              allowTypeImports: true,
              message: 'Workflows may import activity *types* only (`import type`); call implementations through proxyActivities.',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: `${sandbox}: use uuid4() from @temporalio/workflow for ids, or pass randomness in from an activity.` },
        { object: 'Date', property: 'now', message: `${sandbox}: take time from workflowInfo() or an activity; wait with sleep() from @temporalio/workflow.` },
        { object: 'performance', property: 'now', message: `${sandbox}: measure time in activities; use sleep() / condition() from @temporalio/workflow to wait.` },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setInterval', message: `${sandbox}: loop with sleep() from @temporalio/workflow instead of setInterval.` },
        { name: 'crypto', message: `${sandbox}: use uuid4() from @temporalio/workflow, or do cryptography in an activity.` },
        { name: 'process', message: `${sandbox}: there is no process here; read run details with workflowInfo() and configuration in an activity or the workflow input.` },
        { name: 'performance', message: `${sandbox}: measure time in activities; use sleep() from @temporalio/workflow to wait.` },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: `${sandbox}: \`new Date()\` reads the clock; take time from workflowInfo() or pass it in, and wait with sleep() from @temporalio/workflow.`,
        },
        { selector: "CallExpression[callee.name='Date']", message: `${sandbox}: \`Date()\` reads the clock; take time from workflowInfo() or pass it in.` },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
