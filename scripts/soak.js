'use strict';
// `npm run soak`: the long crash-restart proof. Every store's crash test with 100,000 records and
// 10 SIGKILLs, and the stateful crash tests (Redis, PostgreSQL, Kafka) with 2 graceful restarts besides
// (override with DSTREAM_CRASH_RECORDS / DSTREAM_CRASH_KILLS / DSTREAM_CRASH_RESTARTS). `npm test`
// runs the same tests with 10,000 records and 5 kills (stateful: 4,000 records, 3 kills, 1 restart).
const { install, build, servicesUp, run } = require('./prepare');

try {
  install();
  build();
  servicesUp();
  const env = {
    ...process.env,
    DSTREAM_CRASH_RECORDS: process.env.DSTREAM_CRASH_RECORDS ?? '100000',
    DSTREAM_CRASH_KILLS: process.env.DSTREAM_CRASH_KILLS ?? '10',
    DSTREAM_CRASH_RESTARTS: process.env.DSTREAM_CRASH_RESTARTS ?? '2',
  };
  run('npx', ['jest', '--testPathPatterns', 'crashRestart|stateCrash', '--selectProjects', 'integration', '--runInBand'], { env });
} catch (error) {
  console.error(`npm run soak: ${error.message}`);
  process.exit(error.exitCode ?? 1);
}
