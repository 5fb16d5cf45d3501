import { Command } from 'commander';
import { ConfigError } from '@dstream/core';
import type { CliIO } from '../CliIO';
import { commonOptions, CommonFlags, withCommonOptions } from '../offsets/commonOptions';
import { describeLiveness, OffsetsSession } from '../offsets/OffsetsSession';
import { planReset, ResetTarget } from '../offsets/planReset';
import { parseDatetime, parseInteger, parsePartitionList, requireFlag } from '../options';
import { Progress } from '../output/Progress';
import { parseStoreUrl } from '../stores/storeFromUrl';
import { reportPlan } from '../offsets/reportPlan';

interface ResetFlags extends CommonFlags {
  readonly store?: string;
  readonly allTopics?: boolean;
  readonly partition?: string;
  readonly toEarliest?: boolean;
  readonly toLatest?: boolean;
  readonly toDatetime?: string;
  readonly toOffset?: string;
  readonly shiftBy?: string;
  readonly execute?: boolean;
  readonly force?: boolean;
  readonly json?: boolean;
}

const TARGET_FLAGS = ['--to-earliest', '--to-latest', '--to-datetime', '--to-offset', '--shift-by'] as const;

/** The one target the flags name, checked; a `ConfigError` unless exactly one is given. */
export function resetTargetOf(flags: ResetFlags): ResetTarget {
  const values: Record<(typeof TARGET_FLAGS)[number], string | boolean | undefined> = {
    '--to-earliest': flags.toEarliest,
    '--to-latest': flags.toLatest,
    '--to-datetime': flags.toDatetime,
    '--to-offset': flags.toOffset,
    '--shift-by': flags.shiftBy,
  };
  const given = TARGET_FLAGS.filter((flag) => values[flag] !== undefined && values[flag] !== false);
  if (given.length !== 1) {
    throw new ConfigError(
      'reset target',
      given.length === 0 ? 'none' : given.join(' '),
      'must be exactly one of ' + TARGET_FLAGS.join(', '),
      'Pass one, e.g. --to-earliest or --to-datetime 2026-12-01T10:00:00Z.',
    );
  }
  switch (given[0]) {
    case '--to-earliest':
      return { kind: 'earliest' };
    case '--to-latest':
      return { kind: 'latest' };
    case '--to-datetime':
      return { kind: 'datetime', timeMs: parseDatetime('--to-datetime', flags.toDatetime as string) };
    case '--to-offset':
      return { kind: 'offset', offset: parseInteger('--to-offset', flags.toOffset as string, 0, '1000') };
    case '--shift-by':
      return { kind: 'shift', by: parseInteger('--shift-by', flags.shiftBy as string, Number.MIN_SAFE_INTEGER, '-100') };
  }
}

/**
 * `dstream offsets reset`: moves a group's offsets to the log start or end, a time, an offset or
 * by a shift, for named topics or partitions. Prints the plan (a dry run) unless `--execute`;
 * the write is compare-and-set against the offsets the plan was made from, and refused while
 * the group has active members unless `--force`.
 */
export function offsetsResetCommand(io: CliIO): Command {
  const command = new Command('reset')
    .description("move a group's offsets (a dry run unless --execute)")
    .option('--store <url>', 'where the offsets are kept')
    .option('--all-topics', 'every topic the group has offsets for (instead of --topic)')
    .option('--partition <list>', 'only these partitions of the one --topic, e.g. 0,1,2')
    .option('--to-earliest', 'to the first offset still in the log')
    .option('--to-latest', 'to the log end (skip everything not yet read)')
    .option('--to-datetime <time>', 'to the first record at or after an ISO 8601 time (or epoch ms)')
    .option('--to-offset <n>', 'to this offset (clamped to the log)')
    .option('--shift-by <n>', 'by n (negative: back), from the stored offset')
    .option('--execute', 'write the plan (default: print it only)')
    .option('--force', 'skip the check that no job of the group is running')
    .option('--json', 'print the plan as JSON');
  return withCommonOptions(command, { groupRequired: true }).action(async (flags: ResetFlags) => {
    const location = parseStoreUrl('--store', requireFlag('--store', flags.store, 'redis://127.0.0.1:6379'));
    const { group, topics, bootstrapServers, timeoutMs } = commonOptions(flags, { groupRequired: true });
    const target = resetTargetOf(flags);
    if (topics === undefined && !flags.allTopics) {
      throw new ConfigError('--topic', undefined, 'or --all-topics is required for a reset', 'Name the topic with --topic <name>, or pass --all-topics.');
    }
    if (topics !== undefined && flags.allTopics) {
      throw new ConfigError('--all-topics', true, 'must not be given with --topic', 'Pass either --topic or --all-topics.');
    }
    const partitionFilter = flags.partition === undefined ? undefined : parsePartitionList('--partition', flags.partition);
    if (partitionFilter !== undefined && topics?.length !== 1) {
      throw new ConfigError('--partition', flags.partition, 'needs exactly one --topic', 'Pass the topic the partitions belong to with --topic.');
    }
    const session = new OffsetsSession(io, OffsetsSession.bootstrapServers(bootstrapServers, location), timeoutMs);
    try {
      const liveness = await session.liveness(group, { force: flags.force === true, isWriting: flags.execute === true });
      const store = await session.open(location, { mustExist: true });
      let { partitions, stored } = await session.storedPartitions(store, group, topics);
      if (partitionFilter !== undefined) {
        const missing = partitionFilter.filter((p) => !partitions.some((tp) => tp.partition === p));
        if (missing.length > 0) {
          throw new ConfigError('--partition', flags.partition, `names partitions ${missing.join(', ')} that ${topics?.[0]} does not have`, `Use partitions 0 to ${partitions.length - 1}.`);
        }
        partitions = partitions.filter((tp) => partitionFilter.includes(tp.partition));
      }
      const progress = new Progress(io.err, 'reading log bounds', partitions.length);
      const logs = await session.cluster.logs(partitions, progress);
      progress.done();
      const times = target.kind === 'datetime' ? await session.cluster.offsetsForTime(partitions, target.timeMs) : undefined;
      const changes = planReset(logs, stored, target, times);
      const header = `reset of group ${group} in ${location.display}; ${describeLiveness(liveness)}`;
      await reportPlan(io, session, { store, group, changes, header, execute: flags.execute === true, json: flags.json === true, storeDisplay: location.display });
    } finally {
      await session.close();
    }
  });
}
