import type { ChaosScenario } from './runChaosScenario';

/**
 * `quick` is the reduced schedule `npm test` runs (2–3 minutes); `full` is what `npm run chaos`
 * runs. Sizes come from the environment (`npm run chaos` sets these from its flags):
 * DSTREAM_CHAOS_RECORDS (records of the largest scenario; the others take a share),
 * DSTREAM_CHAOS_DURATION_S (fault phase of the group scenarios), DSTREAM_CHAOS_CHURN (join/leave
 * cycles), DSTREAM_CHAOS_KILLS (member kills of the single-process scenarios; the group ones
 * take a third), DSTREAM_CHAOS_MEMBERS (2–4) and DSTREAM_CHAOS_SCENARIOS (comma-separated
 * parts of scenario names to run).
 */
export function chaosScenarios(profile: 'quick' | 'full', env: NodeJS.ProcessEnv = process.env): ChaosScenario[] {
  const number = (name: string, fallback: number) => {
    const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${env[name]} is not a number >= 0; unset it or pass e.g. ${fallback}`);
    return value;
  };
  const scenarios = profile === 'quick' ? quick(number) : full(number);
  const only = (env.DSTREAM_CHAOS_SCENARIOS ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '');
  return only.length === 0 ? scenarios : scenarios.filter((scenario) => only.some((part) => scenario.name.includes(part)));
}

type Setting = (name: string, fallback: number) => number;

function quick(setting: Setting): ChaosScenario[] {
  return [
    {
      name: 'group redis exactly-once (quick)',
      store: 'redis',
      delivery: 'exactly-once',
      records: setting('DSTREAM_CHAOS_RECORDS', 90_000),
      backlogShare: 0.5,
      partitions: 8,
      raisePartitionsTo: 12,
      members: setting('DSTREAM_CHAOS_MEMBERS', 2),
      churnCycles: setting('DSTREAM_CHAOS_CHURN', 15),
      kills: setting('DSTREAM_CHAOS_KILLS', 4),
      serviceFaults: [],
      durationMs: setting('DSTREAM_CHAOS_DURATION_S', 90) * 1000,
      drainTimeoutMs: 60_000,
    },
  ];
}

function full(setting: Setting): ChaosScenario[] {
  const records = setting('DSTREAM_CHAOS_RECORDS', 1_000_000);
  const kills = setting('DSTREAM_CHAOS_KILLS', 20);
  const durationMs = setting('DSTREAM_CHAOS_DURATION_S', 180) * 1000;
  const members = setting('DSTREAM_CHAOS_MEMBERS', 3);
  const churnCycles = setting('DSTREAM_CHAOS_CHURN', 30);
  const group = (store: ChaosScenario['store'], delivery: ChaosScenario['delivery']): ChaosScenario => ({
    name: `group ${store} ${delivery}`,
    store,
    delivery,
    records: Math.ceil(records * 0.3),
    partitions: 8,
    raisePartitionsTo: 12,
    members,
    churnCycles,
    kills: Math.ceil(kills / 3),
    serviceFaults: [],
    maxBufferedRecordsPerPartition: 1000,
    durationMs,
  });
  return [
    {
      name: 'single redis exactly-once',
      store: 'redis',
      delivery: 'exactly-once',
      records,
      partitions: 8,
      raisePartitionsTo: 12,
      members: 1,
      churnCycles: 0,
      kills,
      serviceFaults: ['broker-kill', 'redis-restart'],
      // About 4,000 records a second, and never under 2 minutes.
      durationMs: Math.max(120_000, records / 4),
    },
    {
      name: 'single postgres exactly-once',
      store: 'postgres',
      delivery: 'exactly-once',
      records: Math.ceil(records * 0.2),
      partitions: 8,
      raisePartitionsTo: 12,
      members: 1,
      churnCycles: 0,
      kills: Math.ceil(kills / 2),
      serviceFaults: ['postgres-restart'],
      durationMs: 120_000,
    },
    {
      name: 'single zookeeper at-least-once',
      store: 'zookeeper',
      delivery: 'at-least-once',
      records: Math.ceil(records * 0.1),
      partitions: 8,
      raisePartitionsTo: 12,
      members: 1,
      churnCycles: 0,
      kills: Math.ceil(kills / 3),
      serviceFaults: ['zk-expiry', 'zk-expiry'],
      durationMs: 90_000,
    },
    group('redis', 'exactly-once'),
    group('postgres', 'exactly-once'),
    group('kafka', 'at-least-once'),
  ];
}
