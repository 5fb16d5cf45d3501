import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { DStreamError, topicPartitionKey } from '@dstream/core';
import type { CliIO } from '../CliIO';
import { commonOptions, CommonFlags, withCommonOptions } from '../offsets/commonOptions';
import { EXPORT_FORMAT, EXPORT_VERSION, OffsetsExport } from '../offsets/OffsetsExport';
import { OffsetsSession } from '../offsets/OffsetsSession';
import { requireFlag } from '../options';
import { parseStoreUrl } from '../stores/storeFromUrl';

interface ExportFlags extends CommonFlags {
  readonly store?: string;
  readonly output?: string;
}

/** `dstream offsets export`: a group's stored offsets as a versioned JSON file (or stdout). */
export function offsetsExportCommand(io: CliIO): Command {
  const command = new Command('export')
    .description("write a group's stored offsets as JSON")
    .option('--store <url>', 'where the offsets are kept')
    .option('--output <file>', 'write to this file instead of stdout');
  return withCommonOptions(command, { groupRequired: true }).action(async (flags: ExportFlags) => {
    const location = parseStoreUrl('--store', requireFlag('--store', flags.store, 'redis://127.0.0.1:6379'));
    const { group, topics, bootstrapServers, timeoutMs } = commonOptions(flags, { groupRequired: true });
    const session = new OffsetsSession(io, OffsetsSession.bootstrapServers(bootstrapServers, location), timeoutMs);
    try {
      const store = await session.open(location, { mustExist: true });
      const { partitions, stored } = await session.storedPartitions(store, group, topics);
      const offsets = partitions.flatMap(({ topic, partition }) => {
        const offset = stored.get(topicPartitionKey(topic, partition));
        return offset === undefined ? [] : [{ topic, partition, offset }];
      });
      const exported: OffsetsExport = {
        format: EXPORT_FORMAT,
        version: EXPORT_VERSION,
        group,
        exportedAt: new Date().toISOString(),
        source: location.display,
        offsets,
      };
      const text = `${JSON.stringify(exported, null, 2)}\n`;
      if (flags.output === undefined || flags.output === '-') {
        io.out.write(text);
        return;
      }
      try {
        await writeFile(flags.output, text);
      } catch (error) {
        throw new DStreamError(`could not write --output ${flags.output}: ${(error as Error).message}. Check the path and its permissions`, { cause: error });
      }
      io.err.write(`exported ${offsets.length} partition(s) of group ${group} to ${flags.output}\n`);
    } finally {
      await session.close();
    }
  });
}
