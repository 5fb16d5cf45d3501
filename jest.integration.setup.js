// Integration suites talk to real brokers and databases: give each test two minutes
// (per-project `testTimeout` is not honoured inside `projects`).
jest.setTimeout(120000);
