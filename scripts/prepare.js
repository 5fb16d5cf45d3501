'use strict';
// Brings a checkout to a runnable state: dependencies installed (node-rdkafka's native addon
// built), every package compiled, and the local services up. Shared by `npm test`, `npm run demo`
// and `npm run bench`; uses nothing but Node's own modules, so it runs before any install.
const { spawn, spawnSync } = require('node:child_process');
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
  // Set by tests that run `npm run demo` inside `npm test`, which installed already: a reinstall
  // there (a package.json touched since) would be cut short by the test's Ctrl-C and could leave
  // node-rdkafka half rebuilt for every test after it.
  if (process.env.DSTREAM_SKIP_INSTALL === '1') return;
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

/**
 * Runs a command in the background, its output going to `.dstream/<name>.log`; resolves once it
 * exited 0 (printing the log's last lines when `echo` is set), rejects naming the log otherwise.
 * For work that waits on the network or on JVMs starting while the install compiles.
 */
function runInBackground(name, command, args, { echo = false } = {}) {
  const logDir = path.join(root, '.dstream');
  fs.mkdirSync(logDir, { recursive: true });
  const log = path.join(logDir, `${name}.log`);
  const out = fs.openSync(log, 'w');
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const text = fs.readFileSync(log, 'utf8');
      const tail = text.trimEnd().split('\n').slice(-40).join('\n');
      if (code === 0) {
        if (echo && tail !== '') console.log(tail);
        resolve();
        return;
      }
      if (tail !== '') console.error(tail);
      const error = new Error(`${command} ${args.join(' ')} exited with ${code ?? signal} (log: ${path.relative(root, log)})`);
      error.exitCode = code ?? 1;
      reject(error);
    });
  });
}

/** Starts `names` (every service when empty) with `scripts/services up`. */
function servicesUp(names = []) {
  run('bash', [path.join(root, 'scripts', 'services'), 'up', ...names]);
}

/** The Chromium the UI tests drive: DSTREAM_CHROMIUM, else Debian's `chromium` package. */
const chromiumPath = process.env.DSTREAM_CHROMIUM || '/usr/bin/chromium';

/**
 * Makes sure the UI tests have a browser: Debian's `chromium`, installed with apt-get when it is
 * missing and this is root on a Debian-like system. Does nothing when it is there already.
 */
function ensureChromium() {
  if (fs.existsSync(chromiumPath)) return;
  if (process.env.DSTREAM_CHROMIUM) {
    throw new Error(`DSTREAM_CHROMIUM is ${chromiumPath}, which does not exist; point it at a Chromium binary or unset it`);
  }
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0 || !hasApt) {
    throw new Error(
      `the UI tests need Chromium at ${chromiumPath}; install it (apt-get install -y chromium) or set DSTREAM_CHROMIUM to a Chromium binary`,
    );
  }
  const logDir = path.join(root, '.dstream');
  fs.mkdirSync(logDir, { recursive: true });
  const log = path.join(logDir, 'apt-chromium.log');
  console.log(`prepare: installing chromium with apt-get (log: ${path.relative(root, log)})`);
  const out = fs.openSync(log, 'w');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Waits for a dpkg lock held by another apt run instead of failing at once.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  try {
    // An out-of-date package list names versions the mirror no longer has: update, then install.
    run('apt-get', [...lock, 'update', '-q'], { stdio: ['ignore', out, out], env });
    run('apt-get', [...lock, 'install', '-y', '-q', 'chromium'], { stdio: ['ignore', out, out], env });
  } catch (error) {
    throw new Error(`installing chromium failed (${error.message}); see ${log}, or install it by hand`);
  } finally {
    fs.closeSync(out);
  }
  if (!fs.existsSync(chromiumPath)) throw new Error(`apt-get installed chromium, but ${chromiumPath} is missing; see ${log}`);
}

module.exports = { root, run, runInBackground, install, build, servicesUp, ensureChromium };
