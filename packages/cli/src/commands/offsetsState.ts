import { Command } from 'commander';
import { ConfigError } from '@dstream/core';
import type { CliIO } from '../CliIO';
import { commonOptions, CommonFlags, withCommonOptions } from '../offsets/commonOptions';
import { describeLiveness, OffsetsSession } from '../offsets/OffsetsSession';
import { collect, requireFlag } from '../options';
import { formatTable } from '../output/formatTable';
import { parseStoreUrl } from '../stores/storeFromUrl';

interface StateFlags extends CommonFlags {
  readonly store?: string;
  readonly remove: string[];
  readonly execute?: boolean;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** One operator's stored state: under its own name, and per source partition (`<operator>@<topic>:<partition>`). */
export interface StoredOperatorState {
  readonly operator: string;
  /** The names it is stored under. */
  readonly names: readonly string[];
}

/** Stored state names grouped by the operator they belong to. */
export function groupStateNames(names: readonly string[]): StoredOperatorState[] {
  const byOperator = new Map<string, string[]>();
  for (const name of names) {
    const at = name.lastIndexOf('@');
    const operator = at > 0 && /:\d+$/.test(name) ? name.slice(0, at) : name;
    byOperator.set(operator, [...(byOperator.get(operator) ?? []), name]);
  }
  return [...byOperator].map(([operator, list]) => ({ operator, names: list.sort() })).sort((a, b) => a.operator.localeCompare(b.operator));
}

/**
 * `dstream offsets state`: the operator state a group keeps in a store (operators, and how many
 * source partitions each has state for); with `--remove <operator>`, deletes that operator's state
 * (a dry run unless `--execute`, refused while the group has members unless `--force`): how the
 * state of an operator removed from a job's code is cleared.
 */
export function offsetsStateCommand(io: CliIO): Command {
  const command = new Command('state')
    .description("list a group's stored operator state, or remove an operator's (a dry run unless --execute)")
    .option('--store <url>', 'where the offsets and state are kept (redis://, postgres://, file://)')
    .option('--remove <operator>', "delete this operator's state (repeatable)", collect, [])
    .option('--execute', 'delete (default: print what would be deleted)')
    .option('--force', 'skip the check that no job of the group is running')
    .option('--json', 'print JSON instead of a table');
  return withCommonOptions(command, { groupRequired: true }).action(async (flags: StateFlags) => {
    const location = parseStoreUrl('--store', requireFlag('--store', flags.store, 'redis://127.0.0.1:6379'));
    const { group, bootstrapServers, timeoutMs } = commonOptions(flags, { groupRequired: true });
    const session = new OffsetsSession(io, OffsetsSession.bootstrapServers(bootstrapServers, location), timeoutMs);
    try {
      const isWriting = flags.remove.length > 0 && flags.execute === true;
      const liveness = await session.liveness(group, { force: flags.force === true, isWriting });
      const store = await session.open(location, { mustExist: true });
      if (store.listState === undefined || store.deleteState === undefined) {
        throw new ConfigError('--store', location.display, 'must be a store that keeps operator state and can list it', 'Use a redis://, postgres:// or file:// store.');
      }
      const stored = groupStateNames(await store.listState(group));
      const unknown = flags.remove.filter((operator) => !stored.some((entry) => entry.operator === operator));
      if (unknown.length > 0) {
        throw new ConfigError(
          '--remove',
          unknown.join(', '),
          `must name operators with stored state in group ${group}`,
          `Stored: ${stored.map((entry) => entry.operator).join(', ') || 'none'}.`,
        );
      }
      const removed = stored.filter((entry) => flags.remove.includes(entry.operator));
      if (isWriting) for (const { names } of removed) for (const name of names) await store.deleteState(group, name);
      if (flags.json) {
        io.out.write(`${JSON.stringify({ group, store: location.display, operators: stored, removed: removed.map((e) => e.operator), executed: isWriting }, null, 2)}\n`);
        return;
      }
      io.out.write(`state of group ${group} in ${location.display}; ${describeLiveness(liveness)}\n\n`);
      if (stored.length === 0) {
        io.out.write(`no operator state stored for group ${group}\n`);
        return;
      }
      const partitionsOf = (entry: StoredOperatorState) => entry.names.filter((name) => name !== entry.operator).length;
      io.out.write(
        `${formatTable(
          ['OPERATOR', 'PARTITIONS', 'WHOLE-OPERATOR'],
          stored.map((entry) => [entry.operator, String(partitionsOf(entry)), entry.names.includes(entry.operator) ? 'yes' : 'no']),
        )}\n`,
      );
      if (removed.length > 0) {
        const what = removed.map((entry) => `${entry.operator} (${entry.names.length} state name${entry.names.length === 1 ? '' : 's'})`).join(', ');
        io.out.write(isWriting ? `\nremoved ${what}\n` : `\nwould remove ${what}; pass --execute to delete\n`);
      }
    } finally {
      await session.close();
    }
  });
}
