import { Command } from 'commander';
import { topicPartitionKey } from '@dstream/core';
import type { CliIO } from '../CliIO';
import { commonOptions, CommonFlags, withCommonOptions } from '../offsets/commonOptions';
import { describeLiveness, OffsetsSession } from '../offsets/OffsetsSession';
import { requireFlag } from '../options';
import { formatTable } from '../output/formatTable';
import { Progress } from '../output/Progress';
import { parseStoreUrl } from '../stores/storeFromUrl';

interface ShowFlags extends CommonFlags {
  readonly store?: string;
  readonly json?: boolean;
}

/** One partition of `offsets show`. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to read as stored (null: nothing stored). */
  readonly committed: number | null;
  readonly logStart: number;
  readonly logEnd: number;
  /** Records between the stored offset and the log end (null: nothing stored). */
  readonly lag: number | null;
}

/**
 * `dstream offsets show`: a group's stored offset, log end and lag per partition, from any
 * store, as a table or `--json`.
 */
export function offsetsShowCommand(io: CliIO): Command {
  const command = new Command('show')
    .description("a group's stored offset, log end and lag per partition")
    .option('--store <url>', 'where the offsets are kept (kafka://, redis://, zookeeper://, postgres://, file://)')
    .option('--json', 'print JSON instead of a table');
  return withCommonOptions(command, { groupRequired: true }).action(async (flags: ShowFlags) => {
    const location = parseStoreUrl('--store', requireFlag('--store', flags.store, 'redis://127.0.0.1:6379'));
    const { group, topics, bootstrapServers, timeoutMs } = commonOptions(flags, { groupRequired: true });
    const session = new OffsetsSession(io, OffsetsSession.bootstrapServers(bootstrapServers, location), timeoutMs);
    try {
      const store = await session.open(location, { mustExist: true });
      const { partitions, stored } = await session.storedPartitions(store, group, topics);
      const progress = new Progress(io.err, 'reading log ends', partitions.length);
      const logs = await session.cluster.logs(partitions, progress);
      progress.done();
      const liveness = await session.liveness(group, { force: false, isWriting: false });
      const rows: PartitionLag[] = logs.map(({ topic, partition, logStart, logEnd }) => {
        const committed = stored.get(topicPartitionKey(topic, partition)) ?? null;
        return { topic, partition, committed, logStart, logEnd, lag: committed === null ? null : Math.max(0, logEnd - committed) };
      });
      const totalLag = rows.reduce((sum, row) => sum + (row.lag ?? 0), 0);
      if (flags.json) {
        const members = liveness.checked ? liveness.group.members.length : null;
        const state = liveness.checked ? liveness.group.state : null;
        io.out.write(`${JSON.stringify({ group, store: location.display, state, members, totalLag, partitions: rows }, null, 2)}\n`);
        return;
      }
      io.out.write(`group ${group} in ${location.display}; ${describeLiveness(liveness)}\n\n`);
      if (rows.length === 0) {
        io.out.write(`no offsets stored for group ${group}${topics ? ` and topic ${topics.join(', ')}` : ''}\n`);
        return;
      }
      const show = (value: number | null) => (value === null ? '-' : String(value));
      io.out.write(
        `${formatTable(
          ['TOPIC', 'PARTITION', 'COMMITTED', 'LOG-START', 'LOG-END', 'LAG'],
          rows.map((row) => [row.topic, String(row.partition), show(row.committed), String(row.logStart), String(row.logEnd), show(row.lag)]),
        )}\n\ntotal lag ${totalLag}\n`,
      );
    } finally {
      await session.close();
    }
  });
}
