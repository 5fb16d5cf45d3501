'use strict';
// `npm run demo`: install what is missing, build, start the local services, run the word-count
// job (examples/wordcount). Arguments pass through: `npm run demo -- --forever`.
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const path = require('node:path');
const { root, install, build, servicesUp } = require('./prepare');

/**
 * Runs the job and exits with its exit code, only once it has ended. Ctrl-C reaches the job
 * directly (the terminal signals the whole foreground process group), so this process ignores
 * SIGINT and waits while the job stops gracefully: npm gives the prompt back only after the job's
 * last line. A SIGTERM sent to npm or to this process alone is passed on to the job.
 */
function runJob(args) {
  const job = spawn(process.execPath, [path.join(root, 'examples', 'wordcount', 'dist', 'main.js'), ...args], {
    cwd: root,
    stdio: 'inherit',
  });
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => job.kill('SIGTERM'));
  job.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
  job.on('error', (error) => {
    console.error(`npm run demo: ${error.message}`);
    process.exit(1);
  });
}

try {
  install();
  build();
  // The word-count demo needs no HBase: sparing its JVMs saves half a minute on a first run.
  servicesUp(['kafka', 'zookeeper', 'redis', 'postgres']);
  // The services' addresses are the loopback defaults the job reads, unless DSTREAM_* say otherwise.
  runJob(process.argv.slice(2));
} catch (error) {
  console.error(`npm run demo: ${error.message}`);
  process.exit(error.exitCode ?? 1);
}
