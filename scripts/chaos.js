'use strict';
// `npm run chaos`: the chaos proof. Builds, starts the services, then runs every chaos scenario
// (test/chaos) with the full schedule: a single process over 1,000,000 records with kills, a
// broker kill and store restarts; groups of 2–4 processes with kills, joins and 30 join/leave
// cycles under Redis and PostgreSQL exactly-once and Kafka-kept at-least-once. Prints one line
// per scenario and exits non-zero if any scenario lost a record, counted one twice under
// exactly-once, or had a silent member.
//
//   npm run chaos -- [--seed N] [--records N] [--duration S] [--churn N] [--kills N]
//                    [--members N] [--scenarios group,postgres] [--quick]
//
// It restarts Kafka, Redis, PostgreSQL and ZooKeeper: run it on services of its own (other
// DSTREAM_*_PORT and DSTREAM_RUN_DIR; docs/reliability.md), never on ones other people use.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { root, install, build, servicesUp } = require('./prepare');

const flags = {
  '--seed': 'DSTREAM_CHAOS_SEED',
  '--records': 'DSTREAM_CHAOS_RECORDS',
  '--duration': 'DSTREAM_CHAOS_DURATION_S',
  '--churn': 'DSTREAM_CHAOS_CHURN',
  '--kills': 'DSTREAM_CHAOS_KILLS',
  '--members': 'DSTREAM_CHAOS_MEMBERS',
  '--scenarios': 'DSTREAM_CHAOS_SCENARIOS',
};

function parseArgs(argv) {
  const env = {};
  let profile = 'full';
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split('=', 2);
    if (name === '--quick') {
      profile = 'quick';
      continue;
    }
    const variable = flags[name];
    const value = inline ?? argv[++i];
    if (variable === undefined || value === undefined) {
      throw new Error(`unknown or incomplete option ${argv[i - (inline === undefined ? 1 : 0)] ?? name}; use ${Object.keys(flags).join(' N, ')} N or --quick`);
    }
    env[variable] = value;
  }
  return { env, profile };
}

const started = Date.now();
try {
  const { env, profile } = parseArgs(process.argv.slice(2));
  const seed = env.DSTREAM_CHAOS_SEED ?? process.env.DSTREAM_CHAOS_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
  if (!/^\d+$/.test(seed)) throw new Error(`--seed ${seed} is not a non-negative integer; pass e.g. --seed 42`);
  install();
  build();
  // The scenarios use Kafka, ZooKeeper, Redis and PostgreSQL; HBase's fixed ports would meet another set's.
  servicesUp(['kafka', 'zookeeper', 'redis', 'postgres']);

  const reports = path.join(root, '.dstream');
  fs.mkdirSync(reports, { recursive: true });
  const report = path.join(reports, `chaos-${seed}.jsonl`);
  fs.rmSync(report, { force: true });
  console.log(`npm run chaos: ${profile} schedule, seed ${seed} (--seed ${seed} repeats the schedule)`);
  const jest = spawnSync(
    'npx',
    ['jest', '--selectProjects', 'integration', '--runInBand', '--testPathPatterns', 'test/chaos/'],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...env, DSTREAM_CHAOS_PROFILE: profile, DSTREAM_CHAOS_SEED: seed, DSTREAM_CHAOS_REPORT: report },
    },
  );
  const results = fs.existsSync(report)
    ? fs.readFileSync(report, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line))
    : [];
  console.log(`\nnpm run chaos: seed ${seed}, ${results.length} scenarios, ${Math.round((Date.now() - started) / 1000)} s`);
  for (const result of results) console.log(result.line);
  const failed = results.filter((result) => !result.passed).length;
  if (results.length === 0) console.error('npm run chaos: no scenario finished (see the jest output above)');
  process.exit(failed > 0 || results.length === 0 || jest.status !== 0 ? 1 : 0);
} catch (error) {
  console.error(`npm run chaos: ${error.message}`);
  process.exit(error.exitCode ?? 1);
}
