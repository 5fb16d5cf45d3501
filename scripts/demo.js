'use strict';
// `npm run demo`: install what is missing, build, start the local services, run the word-count
// job (examples/wordcount). Arguments pass through: `npm run demo -- --forever`.
const path = require('node:path');
const { root, install, build, servicesUp, servicesEnv, run } = require('./prepare');

try {
  install();
  build();
  servicesUp();
  run('node', [path.join(root, 'examples', 'wordcount', 'dist', 'main.js'), ...process.argv.slice(2)], {
    env: { ...process.env, ...servicesEnv() },
  });
} catch (error) {
  console.error(`npm run demo: ${error.message}`);
  process.exit(error.exitCode ?? 1);
}
