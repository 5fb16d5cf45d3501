// One jest run, two projects: `unit` (beside the code, virtual clock, no services) and
// `integration` (real Kafka, Redis, ZooKeeper and PostgreSQL on loopback).
const moduleNameMapper = {
  '^@dstream/core$': '<rootDir>/packages/core/src/index.ts',
  '^@dstream/core/testing$': '<rootDir>/packages/core/src/testing/index.ts',
  '^@dstream/core/internal$': '<rootDir>/packages/core/src/internal.ts',
  '^@dstream/(offsets-[a-z]+)$': '<rootDir>/packages/$1/src/index.ts',
  '^@dstream/cli$': '<rootDir>/packages/cli/src/index.ts',
  '^@dstream/test-utils$': '<rootDir>/packages/test-utils/src/index.ts',
  '^@dstream/test-utils/crash$': '<rootDir>/packages/test-utils/src/crash/index.ts',
};
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.base.json' }],
};
const common = { rootDir: __dirname, testEnvironment: 'node', moduleNameMapper, transform };

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/packages/*/src/**/*.test.ts', '<rootDir>/bench/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: [
        '<rootDir>/packages/*/test/integration/**/*.test.ts',
        '<rootDir>/examples/*/test/**/*.test.ts',
        '<rootDir>/test/**/*.test.ts',
      ],
      setupFilesAfterEnv: ['<rootDir>/jest.integration.setup.js'],
    },
  ],
};
