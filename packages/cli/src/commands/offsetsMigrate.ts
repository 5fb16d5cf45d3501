import { Command } from 'commander';
import { ConfigError, topicPartitionKey } from '@dstream/core';
import type { CliIO } from '../CliIO';
import { commonOptions, CommonFlags, withCommonOptions } from '../offsets/commonOptions';
import type { OffsetChange } from '../offsets/OffsetChange';
import { describeLiveness, OffsetsSession } from '../offsets/OffsetsSession';
import { reportPlan } from '../offsets/reportPlan';
import { requireFlag } from '../options';
import { parseStoreUrl } from '../stores/storeFromUrl';

interface MigrateFlags extends CommonFlags {
  readonly from?: string;
  readonly to?: string;
  readonly overwrite?: boolean;
  readonly execute?: boolean;
  readonly force?: boolean;
  readonly json?: boolean;
}

/**
 * `dstream offsets migrate`: copies a group's offsets from one store to another (e.g. ZooKeeper
 * to Kafka to Redis). A dry run unless `--execute`; the write is compare-and-set against what
 * the target held when the plan was made; offsets the target already holds and that differ are
 * replaced only with `--overwrite`; refused while the group has active members unless `--force`.
 */
export function offsetsMigrateCommand(io: CliIO): Command {
  const command = new Command('migrate')
    .description("copy a group's offsets from one store to another (a dry run unless --execute)")
    .option('--from <url>', 'the store the offsets are in now')
    .option('--to <url>', 'the store to copy them to')
    .option('--overwrite', 'replace offsets the target already holds that differ')
    .option('--execute', 'write the plan (default: print it only)')
    .option('--force', 'skip the check that no job of the group is running')
    .option('--json', 'print the plan as JSON');
  return withCommonOptions(command, { groupRequired: true }).action(async (flags: MigrateFlags) => {
    const from = parseStoreUrl('--from', requireFlag('--from', flags.from, 'zookeeper://127.0.0.1:2181'));
    const to = parseStoreUrl('--to', requireFlag('--to', flags.to, 'kafka://127.0.0.1:9092'));
    const { group, topics, bootstrapServers, timeoutMs } = commonOptions(flags, { groupRequired: true });
    if (from.display === to.display) {
      throw new ConfigError('--to', to.display, 'must differ from --from', 'Name the store to copy the offsets to.');
    }
    const session = new OffsetsSession(io, OffsetsSession.bootstrapServers(bootstrapServers, from, to), timeoutMs);
    try {
      const liveness = await session.liveness(group, { force: flags.force === true, isWriting: flags.execute === true });
      const source = await session.open(from, { mustExist: true });
      const { partitions, stored } = await session.storedPartitions(source, group, topics);
      const target = await session.open(to, { mustExist: false });
      const held = await session.load(target, group, partitions);
      const changes: OffsetChange[] = [];
      for (const { topic, partition } of partitions) {
        const key = topicPartitionKey(topic, partition);
        const offset = stored.get(key);
        const current = held.get(key) ?? null;
        if (offset === undefined) {
          changes.push({ topic, partition, current, target: null, note: `nothing stored in ${from.kind}` });
        } else if (current !== null && current !== offset && !flags.overwrite) {
          changes.push({ topic, partition, current, target: null, note: `target holds ${current}: kept (--overwrite replaces)` });
        } else {
          changes.push({ topic, partition, current, target: offset });
        }
      }
      const header = `migrate group ${group} from ${from.display} to ${to.display}; ${describeLiveness(liveness)}\nCURRENT: in the target now; NEW: from the source`;
      await reportPlan(io, session, { store: target, storeDisplay: to.display, group, changes, header, execute: flags.execute === true, json: flags.json === true });
    } finally {
      await session.close();
    }
  });
}
