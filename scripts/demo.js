'use strict';
// `npm run demo`: install what is missing, build, start the local services, run the word-count
// job (examples/wordcount). Arguments pass through: `npm run demo -- --forever`.
const path = require('node:path');
const { root, install, build, servicesUp, run } = require('./prepare');

try {
  install();
  build();
  servicesUp();
  // The services' addresses are the loopback defaults the job reads, unless DSTREAM_* say otherwise.
  run('node', [path.join(root, 'examples', 'wordcount', 'dist', 'main.js'), ...process.argv.slice(2)]);
} catch (error) {
  console.error(`npm run demo: ${error.message}`);
  process.exit(error.exitCode ?? 1);
}
