'use strict';
// `npm test`: install what is missing or stale, build, start the services, run every jest
// project (unit, then integration against the real services), print one closing line with the
// totals, exit non-zero on any failure.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { root, run, runInBackground, install, build } = require('./prepare');

const started = Date.now();

async function prepare() {
  // The services (jars downloaded once, JVMs started) and the UI tests' Chromium (apt-get) wait on
  // the network and on start-ups, not on the install: they come up while it compiles.
  // Tests read the services' addresses from DSTREAM_* when set, else the loopback defaults that
  // `scripts/services up` serves. They are not exported here: a DSTREAM_* variable tells
  // `scripts/services` that a service is external, and tests that restart a local server need it local.
  const services = runInBackground('services-up', 'bash', [path.join(root, 'scripts', 'services'), 'up'], { echo: true });
  // The UI's integration test renders the page in a real headless Chromium.
  const chromium = runInBackground('chromium', process.execPath, ['-e', "require('./scripts/prepare').ensureChromium()"]);
  // Whichever fails, the others are awaited before the failure is reported: none is left running.
  const outcomes = await Promise.allSettled([
    (async () => {
      install();
      build();
      // ts-jest only transpiles; this type-checks every test, example and benchmark too.
      run('npx', ['tsc', '-p', 'tsconfig.test.json']);
    })(),
    services,
    chromium,
  ]);
  const failure = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
}

async function main() {
  try {
    await prepare();
  } catch (error) {
    console.error(`npm test: ${error.message}`);
    process.exit(error.exitCode ?? 1);
  }
  const reports = path.join(root, '.dstream');
  fs.mkdirSync(reports, { recursive: true });
  const extra = process.argv.slice(2);
  const projects = [
    { name: 'unit', args: [] },
    // Integration suites share one broker and one Redis; in band they don't starve each other.
    // Jest is never told to force its exit: every suite closes what it opened, and a run that does not end by itself is a leak to fix.
    { name: 'integration', args: ['--runInBand'] },
  ];

  let passed = 0;
  let failed = 0;
  let exitCode = 0;
  for (const project of projects) {
    const outputFile = path.join(reports, `jest-${project.name}.json`);
    fs.rmSync(outputFile, { force: true });
    const result = spawnSync(
      'npx',
      ['jest', '--selectProjects', project.name, ...project.args, '--json', `--outputFile=${outputFile}`, ...extra],
      { cwd: root, stdio: 'inherit' },
    );
    if (result.status !== 0) exitCode = result.status || 1;
    try {
      const summary = JSON.parse(fs.readFileSync(outputFile, 'utf8'));
      passed += summary.numPassedTests;
      failed += summary.numFailedTests + summary.numRuntimeErrorTestSuites;
    } catch {
      failed += 1;
      exitCode = exitCode || 1;
      console.error(`npm test: jest wrote no report for the ${project.name} project`);
    }
  }

  console.log(`npm test: ${Math.round((Date.now() - started) / 1000)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(exitCode !== 0 || failed > 0 ? exitCode || 1 : 0);
}

void main();
