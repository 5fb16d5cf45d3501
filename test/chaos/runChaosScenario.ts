import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { OffsetStore, TopicPartition } from '@dstream/core';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { ZooKeeperOffsetStore } from '@dstream/offsets-zookeeper';
import { addPartitions, createTopic, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';
import { type JobEvent, JobProcess, openEffects } from '@dstream/test-utils/crash';
import { PacedProducer } from './PacedProducer';
import { seededRandom, SeededRandom } from './seededRandom';
import { expireZooKeeperSession, restartService, ZooKeeperSession } from './serviceFaults';
import { TcpProxy } from './TcpProxy';

/** A fault on a service the job depends on. */
export type ServiceFault = 'broker-kill' | 'redis-restart' | 'postgres-restart' | 'zk-expiry';

/** Every kind of fault a scenario line counts. */
export type FaultKind =
  | 'kill' // SIGKILL of a member at a random moment
  | 'kill-in-output' // SIGKILL a few ms into a batch's output (before or during its commit)
  | 'term' // SIGTERM (graceful stop) of a member at a random moment
  | 'restart' // a new process takes a killed or stopped member's place
  | 'churn' // a member joins, gets partitions and is stopped with SIGTERM shortly after
  | 'partitions' // the topic's partitions raised while records are produced
  | ServiceFault;

/** One chaos scenario: the job, the data and the fault schedule. */
export interface ChaosScenario {
  readonly name: string;
  readonly store: 'redis' | 'postgres' | 'zookeeper' | 'kafka';
  readonly delivery: 'exactly-once' | 'at-least-once';
  /** Records produced in all, during the run (a steady pace over `durationMs`). */
  readonly records: number;
  readonly partitions: number;
  /** Partition count the topic is raised to halfway through production. */
  readonly raisePartitionsTo?: number;
  /** Processes of the job in its consumer group, kept running (killed ones are replaced). */
  readonly members: number;
  /** Join-and-leave cycles of one extra member. */
  readonly churnCycles: number;
  /** SIGKILLs and SIGTERMs of members (random kind, member and moment). */
  readonly kills: number;
  readonly serviceFaults: readonly ServiceFault[];
  /** Share of the records produced before the job starts, so its batches run full from the start. Default 0.25. */
  readonly backlogShare?: number;
  /** The members' read-ahead bound (`maxBufferedRecordsPerPartition`); a low one makes them pause partitions often. Default: the stream's. */
  readonly maxBufferedRecordsPerPartition?: number;
  /** How long records are produced and faults injected; churn may run on after it. */
  readonly durationMs: number;
  readonly batchIntervalMs?: number;
  /** The members' `session.timeout.ms`. Default 6000 (the broker's minimum), so a SIGKILLed member's partitions move on within seconds. */
  readonly sessionTimeoutMs?: number;
  /** How long the members may take, after the last fault, to commit up to the end of every partition. Default 180 s. */
  readonly drainTimeoutMs?: number;
  /** A member that owns partitions with data and completes no batch with records for longer than this is silent. Default 10 s. */
  readonly silentLimitMs?: number;
}

/** A stretch in which a member owned partitions with data and completed no batch with records. */
export interface SilentSpell {
  readonly member: string;
  readonly partitions: readonly number[];
  readonly ms: number;
}

/** What a scenario did and what the effects showed. */
export interface ChaosResult {
  readonly scenario: string;
  readonly seed: number;
  readonly delivery: ChaosScenario['delivery'];
  readonly records: number;
  readonly faults: Readonly<Partial<Record<FaultKind, number>>>;
  /** Records never counted although the committed offsets passed them. */
  readonly lost: number;
  /** The first lost records (`<partition>:<n>`, n is also the offset), for a trace in the members' logs. */
  readonly lostSample: readonly string[];
  /** Records never counted and not committed either: the group did not get to them in time. */
  readonly unread: number;
  /** Counts beyond the first, over all records. */
  readonly duplicated: number;
  /** The first records counted more than once. */
  readonly duplicatedSample: readonly string[];
  readonly silent: readonly SilentSpell[];
  /** Members that exited without being told to (an error, or a signal the runner did not send). */
  readonly unexpectedExits: readonly string[];
  /** Records the producer could not confirm (left out of the expectation; counted here). */
  readonly produceFailures: number;
  readonly wallMs: number;
  readonly passed: boolean;
  /** One line: name, records, faults by kind, lost, duplicated, silent members, wall time. */
  readonly line: string;
}

const ROOT = path.resolve(__dirname, '../..');
// Where the job keeps ZooKeeper offsets (packages/test-utils/jobs/job.js).
const ZK_ROOT = '/dstream-crash';

/**
 * Runs one scenario: creates a topic, produces unique records (`<partition>:<n>`) into it at a
 * steady pace, runs `members` processes of `packages/test-utils/jobs/job.js` in one consumer group while it
 * injects the scenario's faults at moments drawn from `seed`, lets the group read to the end,
 * stops it gracefully, then counts each record's effects. Prints the scenario's line (and appends
 * the result as JSON to `DSTREAM_CHAOS_REPORT` when set); the caller asserts on `passed`.
 *
 * @example
 * const result = await runChaosScenario(scenario, 42);
 * expect(result).toMatchObject({ lost: 0, duplicated: 0, silent: [] });
 */
export async function runChaosScenario(scenario: ChaosScenario, seed: number): Promise<ChaosResult> {
  for (const dist of ['core', 'test-utils', `offsets-${scenario.store}`]) {
    if (!existsSync(path.join(ROOT, 'packages', dist, 'dist/index.js'))) {
      throw new Error(`packages/${dist}/dist is missing: the chaos job runs compiled code; run \`npm run build\` first`);
    }
  }
  await requireService('Kafka', services.kafkaBrokers);
  const run = new ChaosRun(scenario, seed);
  try {
    return await run.execute();
  } finally {
    await run.cleanUp();
  }
}

/** A member process and what the runner knows about it. */
interface Member {
  readonly id: string;
  readonly process: JobProcess;
  readonly owned: Set<number>;
  /** Start of the current silent clock: its last batch with records, or the last change of its partitions. */
  clockFrom: number;
  /** The runner stopped or killed it. */
  isEnding: boolean;
  readonly listeners: Set<(event: JobEvent) => void>;
}

interface KillPlan {
  readonly atMs: number;
  readonly slot: number;
  readonly kind: 'kill' | 'kill-in-output' | 'term';
  readonly delayMs: number;
  readonly restartAfterMs: number;
}

class ChaosRun {
  private readonly random: SeededRandom;
  private readonly runId = uniqueName('chaos');
  private readonly topic = `dstream-${this.runId}`;
  private readonly faults: Partial<Record<FaultKind, number>> = {};
  private readonly slots: Array<Member | undefined> = [];
  private readonly members = new Set<Member>();
  /** Every member the run started, running or not, for the logs of a failed scenario. */
  private readonly everyMember: Member[] = [];
  private readonly unexpectedExits: string[] = [];
  private readonly spells = new Map<Member, { partitions: number[]; ms: number }>();
  private readonly finishedSpells: SilentSpell[] = [];
  private partitionCount: number;
  private producer: PacedProducer | undefined;
  private offsets: OffsetStore | undefined;
  private zkProxy: TcpProxy | undefined;
  private zkSession: ZooKeeperSession | undefined;
  private committed = new Map<string, number>();
  private isServiceDown = false;
  private quietUntil = 0;
  private isFinished = false;
  private started = Date.now();
  private nextMemberId = 1;
  private monitor: NodeJS.Timeout | undefined;

  constructor(
    private readonly scenario: ChaosScenario,
    private readonly seed: number,
  ) {
    this.random = seededRandom(seed, scenario.name);
    this.partitionCount = scenario.partitions;
  }

  async execute(): Promise<ChaosResult> {
    const { scenario } = this;
    const effects = await openEffects(scenario.store, scenario.delivery);
    try {
      this.offsets = await openOffsetReader(scenario.store);
      if (scenario.store === 'zookeeper') this.zkProxy = await TcpProxy.start(services.zkConnect);
      await createTopic(this.topic, scenario.partitions);
      this.producer = await PacedProducer.connect(this.topic, scenario.partitions);

      // The whole schedule is drawn before anything runs, so it depends on the seed alone.
      const kills = this.planKills();
      const churn = Array.from({ length: scenario.churnCycles }, () => ({
        gapMs: this.random.between(0.5, 1.5) * Math.min(4000, scenario.durationMs / Math.max(1, scenario.churnCycles)),
        holdMs: this.random.between(0, 1500),
      }));
      const serviceFaults = scenario.serviceFaults.map((fault, i) => ({
        fault,
        atMs: ((i + this.random.between(0.6, 1.4)) / (scenario.serviceFaults.length + 1)) * scenario.durationMs,
      }));

      this.started = Date.now();
      this.producer.start(scenario.records, scenario.durationMs, scenario.backlogShare ?? 0.25);
      for (let slot = 0; slot < scenario.members; slot++) this.startMember(slot);
      this.monitor = setInterval(() => void this.checkMembers(), 1000);

      await Promise.all([
        this.runKills(kills),
        this.runChurn(churn),
        this.runServiceFaults(serviceFaults),
        this.raisePartitions(),
      ]);
      await this.producer.finish(scenario.durationMs + 300_000);
      for (let slot = 0; slot < scenario.members; slot++) {
        if (this.slots[slot]?.process.isRunning !== true) this.startMember(slot);
      }
      const isDrained = await this.drain();
      this.isFinished = true;
      clearInterval(this.monitor);
      await Promise.all([...this.members].map((member) => this.stop(member, 'SIGTERM')));
      await this.readCommitted();
      return this.result(await effects.read(this.runId), isDrained);
    } finally {
      await effects.close(this.runId);
    }
  }

  async cleanUp(): Promise<void> {
    this.isFinished = true;
    if (this.monitor !== undefined) clearInterval(this.monitor);
    await Promise.all([...this.members].map((member) => member.process.kill()));
    await this.producer?.close();
    await this.offsets?.close();
    await this.zkProxy?.close();
  }

  private planKills(): KillPlan[] {
    const { scenario, random } = this;
    const plans = Array.from({ length: scenario.kills }, () => ({
      atMs: random.between(0.05, 0.95) * scenario.durationMs,
      slot: random.index(scenario.members),
      kind: random.pick(['kill', 'kill-in-output', 'term'] as const),
      delayMs: random.next(),
      restartAfterMs: random.between(0, 2000),
    }));
    return plans.sort((a, b) => a.atMs - b.atMs);
  }

  private count(kind: FaultKind, n = 1): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + n;
  }

  private elapsed(): number {
    return Date.now() - this.started;
  }

  private async untilElapsed(ms: number): Promise<void> {
    const wait = ms - this.elapsed();
    if (wait > 0) await sleep(wait);
  }

  private memberEnv(): NodeJS.ProcessEnv {
    const { scenario } = this;
    // Enough headroom over the production pace to catch up after every outage.
    const produceRate = scenario.records / Math.max(1, scenario.durationMs / 1000) / scenario.partitions;
    return {
      ...process.env,
      CRASH_STORE: scenario.store,
      CRASH_DELIVERY: scenario.delivery,
      CRASH_STRATEGY: 'subscribe',
      CRASH_TOPIC: this.topic,
      CRASH_GROUP: this.runId,
      CRASH_RUN: this.runId,
      CRASH_PARTITIONS: String(scenario.partitions),
      CRASH_BATCH_INTERVAL_MS: String(scenario.batchIntervalMs ?? 250),
      CRASH_RATE_PER_PARTITION: String(Math.max(2000, Math.ceil(produceRate * 5))),
      CRASH_SESSION_TIMEOUT_MS: String(scenario.sessionTimeoutMs ?? 6000),
      ...(scenario.maxBufferedRecordsPerPartition === undefined
        ? {}
        : { CRASH_MAX_BUFFERED_RECORDS: String(scenario.maxBufferedRecordsPerPartition) }),
      DSTREAM_KAFKA_BROKERS: services.kafkaBrokers,
      DSTREAM_REDIS_URL: services.redisUrl,
      DSTREAM_PG_URL: services.pgUrl,
      DSTREAM_ZK: this.zkProxy?.address ?? services.zkConnect,
    };
  }

  /** Starts a member process: in a base slot (kept running), or a churn member (slot undefined). */
  private startMember(slot: number | undefined, prefix = 'm'): Member {
    const id = slot === undefined ? `${prefix}${this.nextMemberId++}` : `m${slot + 1}.${this.nextMemberId++}`;
    const listeners = new Set<(event: JobEvent) => void>();
    let member: Member | undefined;
    const child = new JobProcess(this.memberEnv(), {
      onEvent: (event) => {
        if (member !== undefined) this.onEvent(member, event);
      },
    });
    const started: Member = { id, process: child, owned: new Set(), clockFrom: Date.now(), isEnding: false, listeners };
    member = started;
    this.members.add(started);
    this.everyMember.push(started);
    if (slot !== undefined) this.slots[slot] = started;
    void child.exited.then(() => this.onExit(started, slot));
    return started;
  }

  private onEvent(member: Member, event: JobEvent): void {
    const now = Date.now();
    if (event.event === 'assigned' || event.event === 'revoked') {
      for (const partition of event.partitions as number[]) {
        if (event.event === 'assigned') member.owned.add(partition);
        else member.owned.delete(partition);
      }
      member.clockFrom = now;
    } else if (event.event === 'batch' && Number(event.records) > 0) {
      member.clockFrom = now;
    } else if (event.event === 'zkSession') {
      this.zkSession = { id: String(event.id), password: String(event.password) };
    }
    for (const listener of member.listeners) listener(event);
  }

  private onExit(member: Member, slot: number | undefined): void {
    this.members.delete(member);
    this.closeSpell(member);
    if (member.isEnding || this.isFinished) return;
    // A supervisor's job: note the exit and put a new process in the member's place.
    // The last line that is not a stack frame: the error's message.
    const lastLines = member.process.log.trim().split('\n').filter((line) => !/^\s+at /.test(line)).slice(-2).join(' | ');
    this.unexpectedExits.push(`${member.id} ${member.process.ending ?? '?'} at ${(this.elapsed() / 1000).toFixed(1)} s: ${lastLines}`);
    if (slot !== undefined && this.slots[slot] === member) {
      setTimeout(() => {
        if (!this.isFinished && this.slots[slot] === member) this.startMember(slot);
      }, 1000);
    }
  }

  /** Resolves at the member's next event matching `predicate`, or after `timeoutMs` (false). */
  private nextEvent(member: Member, predicate: (event: JobEvent) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (matched: boolean) => {
        clearTimeout(timer);
        member.listeners.delete(listener);
        resolve(matched);
      };
      const listener = (event: JobEvent) => {
        if (predicate(event)) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      member.listeners.add(listener);
      void member.process.exited.then(() => done(false));
    });
  }

  /** Ends a member: SIGKILL, or SIGTERM with 60 s to stop gracefully (then SIGKILL). */
  private async stop(member: Member, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    member.isEnding = true;
    if (signal === 'SIGKILL') {
      await member.process.kill();
      return;
    }
    member.process.signal('SIGTERM');
    const timer = setTimeout(() => member.process.signal('SIGKILL'), 60_000);
    await member.process.exited;
    clearTimeout(timer);
  }

  private async runKills(plans: readonly KillPlan[]): Promise<void> {
    for (const plan of plans) {
      await this.untilElapsed(plan.atMs);
      const member = this.slots[plan.slot];
      if (member === undefined || !member.process.isRunning) continue;
      if (plan.kind === 'kill-in-output') {
        // A few ms into the output of a batch with records: the job's output takes 40 ms, then it commits.
        await this.nextEvent(member, (event) => event.event === 'batchStarted' && Number(event.records) > 0, 30_000);
        await sleep(plan.delayMs * 60);
      } else {
        await sleep(plan.delayMs * (this.scenario.batchIntervalMs ?? 250) * 2);
      }
      if (!member.process.isRunning) continue;
      await this.stop(member, plan.kind === 'term' ? 'SIGTERM' : 'SIGKILL');
      this.count(plan.kind);
      await sleep(plan.restartAfterMs);
      if (this.slots[plan.slot] === member) {
        this.startMember(plan.slot);
        this.count('restart');
      }
    }
  }

  private async runChurn(cycles: ReadonlyArray<{ gapMs: number; holdMs: number }>): Promise<void> {
    for (const cycle of cycles) {
      await sleep(cycle.gapMs);
      const member = this.startMember(undefined, 'c');
      // "Shortly after it gets partitions": the hold starts at its first non-empty assignment.
      await this.nextEvent(member, (event) => event.event === 'assigned' && (event.partitions as number[]).length > 0, 60_000);
      await sleep(cycle.holdMs);
      await this.stop(member, 'SIGTERM');
      this.count('churn');
    }
  }

  private async runServiceFaults(plans: ReadonlyArray<{ fault: ServiceFault; atMs: number }>): Promise<void> {
    for (const { fault, atMs } of plans) {
      await this.untilElapsed(atMs);
      this.isServiceDown = true;
      try {
        if (fault === 'broker-kill') await restartService('kafka', { kill: true });
        else if (fault === 'redis-restart') await restartService('redis', { kill: false });
        else if (fault === 'postgres-restart') await restartService('postgres', { kill: true });
        else await this.expireZooKeeperSession();
      } finally {
        this.isServiceDown = false;
        this.quietUntil = Date.now();
      }
      this.count(fault);
    }
  }

  private async expireZooKeeperSession(): Promise<void> {
    if (this.zkProxy === undefined) throw new Error(`a ZooKeeper session expiry needs the zookeeper store, not ${this.scenario.store}`);
    await waitFor(() => this.zkSession !== undefined, 60_000, 'a member to report its ZooKeeper session');
    await expireZooKeeperSession(this.zkProxy, this.zkSession!);
  }

  private async raisePartitions(): Promise<void> {
    const to = this.scenario.raisePartitionsTo;
    if (to === undefined) return;
    await this.untilElapsed(this.scenario.durationMs / 2);
    await addPartitions(this.topic, to);
    await this.producer!.growTo(to);
    this.partitionCount = to;
    this.count('partitions');
  }

  private topicPartitions(): TopicPartition[] {
    return Array.from({ length: this.partitionCount }, (_, partition) => ({ topic: this.topic, partition }));
  }

  private async readCommitted(): Promise<void> {
    this.committed = new Map(await this.offsets!.load(this.runId, this.topicPartitions()));
  }

  private committedOf(partition: number): number {
    return this.committed.get(`${this.topic}:${partition}`) ?? 0;
  }

  /** Polls the committed offsets and measures each member's silence. */
  private async checkMembers(): Promise<void> {
    if (this.isServiceDown || this.isFinished) return;
    try {
      await this.readCommitted();
    } catch {
      return; // the store is restarting
    }
    const now = Date.now();
    const ends = this.producer!.endOffsets;
    for (const member of this.members) {
      const withData = [...member.owned].filter((p) => this.committedOf(p) < (ends[p] ?? 0));
      if (withData.length === 0 || this.isServiceDown) {
        member.clockFrom = Math.max(member.clockFrom, now);
        this.closeSpell(member);
        continue;
      }
      const silentMs = now - Math.max(member.clockFrom, this.quietUntil);
      if (silentMs <= (this.scenario.silentLimitMs ?? 10_000)) {
        this.closeSpell(member);
        continue;
      }
      this.spells.set(member, { partitions: withData.sort((a, b) => a - b), ms: silentMs });
    }
  }

  private closeSpell(member: Member): void {
    const spell = this.spells.get(member);
    if (spell === undefined) return;
    this.spells.delete(member);
    this.finishedSpells.push({ member: member.id, ...spell });
  }

  /** Waits until the committed offsets reach the end of every partition. */
  private async drain(): Promise<boolean> {
    const ends = this.producer!.endOffsets;
    try {
      await waitFor(
        async () => {
          try {
            await this.readCommitted();
          } catch {
            return false;
          }
          return ends.every((end, partition) => this.committedOf(partition) >= end);
        },
        this.scenario.drainTimeoutMs ?? 180_000,
        'the group to commit every partition to its end',
        1000,
      );
      return true;
    } catch {
      return false;
    }
  }

  /** For each record, the completed batches whose ranges covered it: which member, when, and what its output saw. */
  private traceRecords(ids: readonly string[]): string[] {
    const traces: string[] = [];
    for (const id of ids) {
      const [partition, n] = id.split(':').map(Number) as [number, number];
      for (const member of this.everyMember) {
        for (const line of member.process.log.split('\n')) {
          if (!line.startsWith('{"event":"batch",')) continue;
          const event = JSON.parse(line) as { ranges?: Array<[number, number, number, number]>; at?: number };
          for (const [p, from, until, seen] of event.ranges ?? []) {
            if (p !== partition || n < from || n >= until) continue;
            const at = event.at === undefined ? '' : ` at ${((event.at - this.started) / 1000).toFixed(1)} s`;
            traces.push(`${id}: ${member.id} completed a batch with [${from}, ${until}) of partition ${p}${at}; its output saw ${seen} of those ${until - from} records`);
          }
        }
      }
    }
    return traces;
  }

  /** Writes every member's output to `.dstream/chaos/<run>/<member>.log`; returns the directory. */
  private saveLogs(): string {
    const dir = path.join(ROOT, '.dstream', 'chaos', this.runId);
    mkdirSync(dir, { recursive: true });
    for (const member of this.everyMember) writeFileSync(path.join(dir, `${member.id}.log`), member.process.log);
    return path.relative(ROOT, dir);
  }

  private result(counts: Map<string, number>, isDrained: boolean): ChaosResult {
    const { scenario } = this;
    for (const member of [...this.spells.keys()]) this.closeSpell(member);
    const failed = this.producer!.failedRecords;
    let lost = 0;
    const lostSample: string[] = [];
    let unread = 0;
    let duplicated = 0;
    const duplicatedSample: string[] = [];
    let records = 0;
    this.producer!.endOffsets.forEach((end, partition) => {
      const committed = this.committedOf(partition);
      for (let n = 0; n < end; n++) {
        const id = `${partition}:${n}`;
        if (failed.has(id)) continue;
        records += 1;
        const count = counts.get(id) ?? 0;
        if (count === 0 && n < committed) {
          lost += 1;
          if (lostSample.length < 20) lostSample.push(id);
        }
        else if (count === 0) unread += 1;
        else if (count > 1) {
          duplicated += count - 1;
          if (duplicatedSample.length < 20) duplicatedSample.push(id);
        }
      }
    });
    const silent = this.finishedSpells;
    const isExactlyOnce = scenario.delivery === 'exactly-once';
    const passed = lost === 0 && unread === 0 && isDrained && silent.length === 0 && (!isExactlyOnce || duplicated === 0);
    const wallMs = Date.now() - this.started;
    const order: FaultKind[] = ['kill', 'kill-in-output', 'term', 'restart', 'churn', 'partitions', 'broker-kill', 'redis-restart', 'postgres-restart', 'zk-expiry'];
    const faultText = Object.entries(this.faults)
      .sort(([a], [b]) => order.indexOf(a as FaultKind) - order.indexOf(b as FaultKind))
      .map(([kind, n]) =>
        kind === 'partitions' ? `partitions ${scenario.partitions}→${scenario.raisePartitionsTo}` : `${kind} ${n}`,
      )
      .join(', ');
    const silentText =
      silent.length === 0
        ? 'none'
        : silent.map((s) => `${s.member} ${(s.ms / 1000).toFixed(1)} s (partitions ${s.partitions.join(',')})`).join('; ');
    const line =
      `chaos ${scenario.name}: ${records} records; faults: ${faultText || 'none'}; ` +
      `lost ${lost}, duplicated ${duplicated}${unread > 0 || !isDrained ? `, unread ${unread} (not drained in ${((scenario.drainTimeoutMs ?? 180_000) / 1000).toFixed(0)} s)` : ''}; ` +
      `silent: ${silentText}; unexpected exits ${this.unexpectedExits.length}` +
      `${failed.size > 0 ? `; ${failed.size} records not confirmed by the broker (left out)` : ''}; ` +
      `${(wallMs / 1000).toFixed(1)} s; ${passed ? 'PASS' : 'FAIL'}`;
    const result: ChaosResult = {
      scenario: scenario.name,
      seed: this.seed,
      delivery: scenario.delivery,
      records,
      faults: { ...this.faults },
      lost,
      lostSample,
      unread,
      duplicated,
      duplicatedSample,
      silent,
      unexpectedExits: this.unexpectedExits,
      produceFailures: failed.size,
      wallMs,
      passed,
      line,
    };
    process.stdout.write(`${line}\n`);
    if (lost > 0) process.stdout.write(`  lost records include ${lostSample.join(' ')}\n`);
    for (const trace of this.traceRecords(lostSample.slice(0, 3))) process.stdout.write(`  ${trace}\n`);
    if (duplicated > 0) process.stdout.write(`  duplicated records include ${duplicatedSample.join(' ')}\n`);
    if (isExactlyOnce) for (const trace of this.traceRecords(duplicatedSample.slice(0, 2))) process.stdout.write(`  ${trace}\n`);
    if (!passed) process.stdout.write(`  member logs: ${this.saveLogs()}\n`);
    for (const exit of this.unexpectedExits) process.stdout.write(`  unexpected exit: ${exit.slice(0, 400)}\n`);
    if (process.env.DSTREAM_CHAOS_REPORT) appendFileSync(process.env.DSTREAM_CHAOS_REPORT, `${JSON.stringify(result)}\n`);
    return result;
  }
}

/** Reads committed offsets the way the job stores them, for progress and silence checks. */
async function openOffsetReader(store: ChaosScenario['store']): Promise<OffsetStore> {
  const reader: OffsetStore =
    store === 'redis'
      ? new RedisOffsetStore({ url: services.redisUrl })
      : store === 'postgres'
        ? new PostgresOffsetStore({ connectionString: services.pgUrl })
        : store === 'zookeeper'
          ? new ZooKeeperOffsetStore({ connectionString: services.zkConnect, root: ZK_ROOT })
          : new KafkaOffsetStore({ brokers: services.kafkaBrokers });
  await reader.connect();
  return reader;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
