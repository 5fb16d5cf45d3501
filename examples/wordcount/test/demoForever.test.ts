import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brokersFromEnv, deleteTopic, pgUrlFromEnv, redisUrlFromEnv, zkFromEnv } from '@dstream/example-support';

const root = path.resolve(__dirname, '../../..');

/** A process group started like a terminal's foreground job, with everything it printed. */
function startInOwnGroup(command: string, args: readonly string[], env: NodeJS.ProcessEnv) {
  const child = spawn(command, args, { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; isGroupGone: boolean }>((resolve) =>
    child.on('exit', (code, signal) => {
      // Is any process of the group (the demo script, the job) still running when npm returns?
      let isGroupGone = false;
      try {
        process.kill(-(child.pid as number), 0);
      } catch {
        isGroupGone = true;
      }
      resolve({ code, signal, isGroupGone });
    }),
  );
  return {
    pid: child.pid as number,
    output: () => output,
    exited,
    async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = output.match(pattern);
        if (match) return match;
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

describe('npm run demo -- --forever', () => {
  const runDir = mkdtempSync(path.join(tmpdir(), 'dstream-demo-'));
  let topic: string | undefined;
  // The services are used as they are (scripts/services only probes them when these are set).
  const env = {
    ...process.env,
    DSTREAM_RUN_DIR: runDir,
    DSTREAM_KAFKA_BROKERS: brokersFromEnv(),
    DSTREAM_REDIS_URL: redisUrlFromEnv(),
    DSTREAM_ZK: zkFromEnv(),
    DSTREAM_PG_URL: pgUrlFromEnv(),
    // The tree is installed already; see scripts/prepare.js.
    DSTREAM_SKIP_INSTALL: '1',
  };

  afterAll(async () => {
    if (topic) await deleteTopic(brokersFromEnv(), topic);
    rmSync(runDir, { recursive: true, force: true });
  });

  it('stops gracefully on Ctrl-C before npm returns, with names that match its checkpoint directory', async () => {
    const demo = startInOwnGroup('npm', ['run', 'demo', '--', '--forever', '--rate', '300'], env);
    try {
      const [, topicName, group, checkpoints] = await demo.waitFor(
        /topic (\S+) \(3 partitions\), group (\S+), offsets checkpointed in (\S+)\n/,
        90_000,
      );
      topic = topicName;
      const run = path.basename(checkpoints);
      expect(run).toBe(group);
      expect(topicName).toBe(`dstream-${group}`);
      expect(path.dirname(checkpoints)).toBe(path.join(runDir, 'demo'));
      await demo.waitFor(/\[job\] batch \S+ +[1-9]\d* records/, 30_000);

      process.kill(-demo.pid, 'SIGINT'); // what Ctrl-C does: the whole foreground group gets it
      const { code, signal, isGroupGone } = await demo.exited;
      const output = demo.output();
      // npm reports a Ctrl-C'd script as a shell does (ends by SIGINT itself, or exits 130), but
      // only once the job has stopped: nothing of the group is left when it returns.
      expect({ isGroupGone, interrupted: signal === 'SIGINT' || code === 130 }).toEqual({ isGroupGone: true, interrupted: true });
      expect(output).toContain('SIGINT received; stopping gracefully');
      const [, resumeAt] = output.match(/stopped gracefully; the next --forever run resumes at (.+)\n/) ?? [];
      expect(resumeAt).toMatch(new RegExp(`^${topicName}:0=\\d+ ${topicName}:1=\\d+ ${topicName}:2=\\d+$`));
      // The checkpoint holds exactly where the job said it stopped.
      const files = readdirSync(checkpoints).filter((name) => /^offsets-\d+\.json$/.test(name)).sort();
      expect(files.length).toBeGreaterThan(0);
      const saved = require(path.join(checkpoints, files[files.length - 1]));
      const stored = Object.entries(saved.offsets[topicName] as Record<string, number>)
        .map(([partition, offset]) => `${topicName}:${partition}=${offset}`)
        .join(' ');
      expect(stored).toBe(resumeAt);
    } finally {
      try {
        process.kill(-demo.pid, 'SIGKILL');
      } catch {
        // Already gone: the expected case.
      }
    }
  });
});
