'use strict';
// `npm run bench`: install, build, start the services, run every benchmark in bench/. Each prints
// its results as ratios against a baseline measured in the same run. `npm run bench -- operators`
// runs one.
const fs = require('node:fs');
const path = require('node:path');
const { root, install, build, servicesUp, run } = require('./prepare');

const BENCHMARKS = ['operators', 'throughput', 'commit-latency', 'failover'];

try {
  const wanted = process.argv.slice(2);
  for (const name of wanted) {
    if (!BENCHMARKS.includes(name)) throw new Error(`unknown benchmark ${name}; choose from ${BENCHMARKS.join(', ')}`);
  }
  install();
  build();
  servicesUp();
    for (const name of wanted.length > 0 ? wanted : BENCHMARKS) {
    const script = path.join(root, 'bench', 'dist', `${name}.js`);
    if (!fs.existsSync(script)) throw new Error(`bench/dist/${name}.js is missing: bench/${name}.ts did not build`);
    console.log(`\n== bench: ${name} ==`);
    run('node', ['--expose-gc', script]);
  }
} catch (error) {
  console.error(`npm run bench: ${error.message}`);
  process.exit(error.exitCode ?? 1);
}
