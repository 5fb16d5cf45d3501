import type { StreamingContextLike } from '../context/types';
import type { DStream } from '../dstream/graph';
import { ConfigError } from '../errors';
import { checkKeyPartitions, sourcePartitionsLostAt } from '../dstream/sourcePartitions';
import type { StatefulOperator } from './StatefulOperator';

/**
 * The stateful operators of one StreamingContext, by name: what the commit path reads a batch's
 * state changes from and restores state into. Internal: reached through `stateRegistryOf(context)`
 * or `StreamingContext.stateOperators`.
 */
export class StateRegistry {
  private readonly byName = new Map<string, StatefulOperator>();

  /** The registered operators, in the order their streams were built. */
  get operators(): readonly StatefulOperator[] {
    return [...this.byName.values()];
  }

  /** The operator registered as `name`, if any. */
  get(name: string): StatefulOperator | undefined {
    return this.byName.get(name);
  }

  /**
   * The name a new stateful operator gets: `name` if the user gave one (which must be unique), else
   * `<operator>:<lineage>` from the names of the streams it is computed from (following first
   * dependencies back to the input), with `#2`, `#3`, … for further operators of the same lineage
   * in the order they were built. The default is stable as long as the graph is built the same way.
   */
  claimName(operator: string, source: DStream<unknown>, name: string | undefined): string {
    if (name !== undefined) {
      if (typeof name !== 'string' || name.length === 0) {
        throw new ConfigError(`${operator} name`, name, 'must be a non-empty string', 'Pass a stable name for the state, e.g. "sessions".');
      }
      if (this.byName.has(name)) {
        throw new ConfigError(
          `${operator} name`,
          name,
          'must be unique among the stateful operators of a StreamingContext',
          'Give each stateful operator its own name.',
        );
      }
      return name;
    }
    const base = `${operator}:${lineageOf(source)}`;
    let candidate = base;
    for (let index = 2; this.byName.has(candidate); index++) candidate = `${base}#${index}`;
    return candidate;
  }

  /** Adds `operator` under its (claimed) name. */
  register(operator: StatefulOperator): void {
    if (this.byName.has(operator.name)) {
      throw new ConfigError(
        `${operator.kind} name`,
        operator.name,
        'must be unique among the stateful operators of a StreamingContext',
        'Give each stateful operator its own name.',
      );
    }
    this.byName.set(operator.name, operator);
  }
}

/** Options of the stateful operators whose only option is their state's name (`countByWindow`, `mapWithState`, …). */
export interface StateNameOptions {
  /** Name the state is stored under (default: derived from the stream's lineage, see `StateRegistry.claimName`). */
  readonly name?: string;
}

/** What an operator implements to be registered: a `StatefulOperator` without its name, kind and version. */
export type StateHandlers = Pick<StatefulOperator, 'changesOf' | 'entries' | 'restore'> &
  Partial<Pick<StatefulOperator, 'loadPartition' | 'dropPartition' | 'isScoped' | 'scopeByPartition'>>;

/**
 * Registers the state of a new `kind` operator over `source` with `source`'s context, under `name`
 * or the default name (see `StateRegistry.claimName`), and returns the operator as registered.
 */
export function registerState(
  source: DStream<unknown>,
  kind: string,
  name: string | undefined,
  stateVersion: number,
  handlers: StateHandlers,
): StatefulOperator {
  const registry = stateRegistryOf(source.context);
  const { readsKafka, lostAt } = sourcePartitionsLostAt(source);
  const operator: StatefulOperator = {
    name: registry.claimName(kind, source, name),
    kind,
    stateVersion,
    changesOf: (time) => handlers.changesOf(time),
    entries: () => handlers.entries(),
    restore: (entries) => handlers.restore(entries),
    get isScoped() {
      return handlers.isScoped === true;
    },
    // Possible when the input tells each record's partition all the way here.
    canScopeByPartition: readsKafka && lostAt === undefined && handlers.scopeByPartition !== undefined,
    scopeByPartition: () => {
      checkKeyPartitions(source);
      handlers.scopeByPartition?.();
    },
    partitionsLostAt: readsKafka ? lostAt : undefined,
    loadPartition: (partition, entries) => handlers.loadPartition?.(partition, entries),
    dropPartition: (partition) => handlers.dropPartition?.(partition),
  };
  registry.register(operator);
  return operator;
}

const registries = new WeakMap<StreamingContextLike, StateRegistry>();

/** The state registry of `context`, created on first use. */
export function stateRegistryOf(context: StreamingContextLike): StateRegistry {
  let registry = registries.get(context);
  if (registry === undefined) {
    registry = new StateRegistry();
    registries.set(context, registry);
  }
  return registry;
}

/** `input/op/op…`: node names from the input to `stream`, following each node's first dependency. */
function lineageOf(stream: DStream<unknown>): string {
  const names: string[] = [];
  for (let current: DStream<unknown> | undefined = stream; current !== undefined; current = current.dependencies[0]) {
    names.push(current.node.name);
  }
  return names.reverse().join('/');
}
