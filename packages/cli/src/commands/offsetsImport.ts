import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { ConfigError, topicPartitionKey } from '@dstream/core';
import type { CliIO } from '../CliIO';
import { commonOptions, CommonFlags, withCommonOptions } from '../offsets/commonOptions';
import type { OffsetChange } from '../offsets/OffsetChange';
import { parseOffsetsExport } from '../offsets/OffsetsExport';
import { describeLiveness, OffsetsSession } from '../offsets/OffsetsSession';
import { reportPlan } from '../offsets/reportPlan';
import { requireFlag } from '../options';
import { parseStoreUrl } from '../stores/storeFromUrl';

interface ImportFlags extends CommonFlags {
  readonly store?: string;
  readonly execute?: boolean;
  readonly force?: boolean;
  readonly json?: boolean;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `dstream offsets import <file>`: stores the offsets of an export file (`-`: stdin) for its group
 * (or `--group`). A dry run unless `--execute`; compare-and-set against what the store held when
 * the plan was made; refused while the group has active members unless `--force`.
 */
export function offsetsImportCommand(io: CliIO): Command {
  const command = new Command('import')
    .description('store the offsets of an export file (a dry run unless --execute)')
    .argument('<file>', 'a file written by `dstream offsets export`, or - for stdin')
    .option('--store <url>', 'where to store the offsets')
    .option('--execute', 'write the plan (default: print it only)')
    .option('--force', 'skip the check that no job of the group is running')
    .option('--json', 'print the plan as JSON');
  return withCommonOptions(command, { groupRequired: false }).action(async (file: string, flags: ImportFlags) => {
    const location = parseStoreUrl('--store', requireFlag('--store', flags.store, 'redis://127.0.0.1:6379'));
    const { group: groupFlag, topics, bootstrapServers, timeoutMs } = commonOptions(flags, { groupRequired: false });
    let text: string;
    try {
      text = file === '-' ? await readAll(io.in) : await readFile(file, 'utf8');
    } catch (error) {
      throw new ConfigError('<file>', file, `must be a readable file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'Pass the path of an export file, or - to read stdin.');
    }
    const exported = parseOffsetsExport(file, text);
    const group = groupFlag === '' ? exported.group : groupFlag;
    const entries = exported.offsets.filter((entry) => topics === undefined || topics.includes(entry.topic));
    const session = new OffsetsSession(io, OffsetsSession.bootstrapServers(bootstrapServers, location), timeoutMs);
    try {
      const liveness = await session.liveness(group, { force: flags.force === true, isWriting: flags.execute === true });
      const store = await session.open(location, { mustExist: false });
      const held = await session.load(store, group, entries);
      const changes: OffsetChange[] = entries.map(({ topic, partition, offset }) => ({
        topic,
        partition,
        current: held.get(topicPartitionKey(topic, partition)) ?? null,
        target: offset,
      }));
      const header = `import into group ${group} in ${location.display} from ${file} (exported from ${exported.source} at ${exported.exportedAt}); ${describeLiveness(liveness)}`;
      await reportPlan(io, session, { store, storeDisplay: location.display, group, changes, header, execute: flags.execute === true, json: flags.json === true });
    } finally {
      await session.close();
    }
  });
}
