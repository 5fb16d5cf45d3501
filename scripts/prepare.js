'use strict';
// Brings a checkout to a runnable state: dependencies installed (node-rdkafka's native addon
// built), every package compiled, and the local services up. Shared by `npm test`, `npm run demo`
// and `npm run bench`; uses nothing but Node's own modules, so it runs before any install.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function run(command, args, options = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    const error = new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
    error.exitCode = result.status ?? 1;
    throw error;
  }
  return Date.now() - started;
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Manifests whose change means the installed tree may be stale. */
function manifests() {
  const files = [path.join(root, 'package.json'), path.join(root, 'package-lock.json')];
  for (const dir of ['packages', 'examples']) {
    const base = path.join(root, dir);
    if (!fs.existsSync(base)) continue;
    for (const name of fs.readdirSync(base)) files.push(path.join(base, name, 'package.json'));
  }
  files.push(path.join(root, 'bench', 'package.json'));
  return files.filter((file) => fs.existsSync(file));
}

const rdkafkaAddon = path.join(root, 'node_modules', 'node-rdkafka', 'build', 'Release', 'node-librdkafka.node');

function install() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  const installedAt = mtime(marker);
  const stale = installedAt === 0 || manifests().some((file) => mtime(file) > installedAt);
  if (stale) {
    const ci = installedAt === 0 && fs.existsSync(path.join(root, 'package-lock.json'));
    console.log(`prepare: installing dependencies (npm ${ci ? 'ci' : 'install'}; node-rdkafka compiles librdkafka, ~2 min)`);
    try {
      run('npm', [ci ? 'ci' : 'install', '--no-audit', '--no-fund']);
    } catch (error) {
      // `npm ci` refuses a lock file that lags a package.json; a plain install reconciles it.
      if (!ci) throw error;
      console.log('prepare: npm ci failed; retrying with npm install');
      run('npm', ['install', '--no-audit', '--no-fund']);
    }
  }
  if (!fs.existsSync(rdkafkaAddon)) {
    // npm 11 skips install scripts not listed in allowScripts; a tree installed without the
    // root's allowScripts would lack the addon, so build it explicitly.
    console.log('prepare: building node-rdkafka native addon');
    run('npm', ['rebuild', 'node-rdkafka', '--foreground-scripts']);
  }
}

function build() {
  run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], {
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });
}

/** Starts `names` (every service when empty) with `scripts/services up`. */
function servicesUp(names = []) {
  run('bash', [path.join(root, 'scripts', 'services'), 'up', ...names]);
}

module.exports = { root, run, install, build, servicesUp };
