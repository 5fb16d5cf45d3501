import { Command } from 'commander';
import { collect, parseInteger, requireFlag } from '../options';

/** Flags every `offsets` subcommand reads, as commander hands them over. */
export interface CommonFlags {
  readonly group?: string;
  readonly topic: string[];
  readonly bootstrapServers?: string;
  readonly timeoutMs: string;
}

/** The checked common flags. */
export interface CommonOptions {
  readonly group: string;
  /** Topics named with --topic; undefined: every topic the group has offsets for. */
  readonly topics: readonly string[] | undefined;
  readonly bootstrapServers: string | undefined;
  readonly timeoutMs: number;
}

/** Adds --group, --topic, --bootstrap-servers and --timeout-ms to `command`. */
export function withCommonOptions(command: Command, options: { groupRequired: boolean }): Command {
  return command
    .option('--group <id>', `consumer group (the job's group.id)${options.groupRequired ? '' : '; default: the file\'s'}`)
    .option('--topic <name>', 'only this topic (repeatable); default: every topic the group has offsets for', collect, [])
    .option('--bootstrap-servers <list>', 'Kafka brokers for log ends, topic metadata and the group check (default: a kafka:// store\'s, else 127.0.0.1:9092)')
    .option('--timeout-ms <ms>', 'how long each connection or request may take', '10000');
}

/** Checks the common flags; `group` may be left to the command when not required. */
export function commonOptions(flags: CommonFlags, options: { groupRequired: boolean }): CommonOptions {
  const group = options.groupRequired ? requireFlag('--group', flags.group, 'wordcount') : (flags.group ?? '');
  return {
    group,
    topics: flags.topic.length === 0 ? undefined : [...new Set(flags.topic)],
    bootstrapServers: flags.bootstrapServers,
    timeoutMs: parseInteger('--timeout-ms', flags.timeoutMs, 1, '10000'),
  };
}
