/** @type {import('jest').Config} */
const swc = ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }];

module.exports = {
  // Per-project testTimeout is ignored by jest 30; integration tests wait on real servers.
  testTimeout: 60_000,
  // After the summary: the suites skipped for a missing runtime, in one block (test/harness/skips.ts).
  reporters: ['default', '<rootDir>/test/harness/skip-reporter.js'],
  // Unit tests sit beside the code they test and need nothing running.
  // Integration tests live in test/ and share one real PostgreSQL and one
  // real Temporal dev server, started once by test/harness/global-setup.ts.
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.(t|j)sx?$': swc },
      testMatch: ['<rootDir>/{billing,api,activities,workflows,temporal,prisma,worker,scripts,web,proxy}/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/web/build/'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: { '^.+\\.(t|j)sx?$': swc },
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/'],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      setupFiles: ['<rootDir>/test/harness/setup-temporal-logging.ts'],
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
    {
      // Part of `npm test`; alone: `npm run test:faults`. Real processes killed and Stripe failing; minutes.
      displayName: 'faults',
      testEnvironment: 'node',
      transform: { '^.+\\.(t|j)sx?$': swc },
      testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      setupFiles: ['<rootDir>/test/harness/setup-temporal-logging.ts'],
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
  ],
};
