/** Checks a direct stream's `kafkaParams`: what the stream owns, what librdkafka knows and accepts. */
import { ConfigError } from '../errors';
import { LIBRDKAFKA_VERSION, checkConsumerConfig, documentedConsumerProperties } from './KafkaClient';

/** Properties the stream owns: setting them would break offset management. */
const OWNED_PROPERTIES: Readonly<Record<string, string>> = {
  'enable.auto.commit': 'offsets are committed to offsetStore after each batch; remove it',
  'auto.commit.enable': 'offsets are committed to offsetStore after each batch; remove it',
  'enable.auto.offset.store': 'offsets are committed to offsetStore after each batch; remove it',
  'auto.offset.reset': "use the stream's startingOffsets and offsetOutOfRange options instead",
  'enable.partition.eof': 'the stream turns it on to detect the end of a partition; remove it',
  rebalance_cb: 'the stream handles rebalances itself; remove it',
  offset_commit_cb: 'the stream commits through offsetStore; remove it',
};

/** Properties that may be given only with the value the stream forces. */
const FALSE_ONLY = new Set(['enable.auto.commit', 'auto.commit.enable', 'enable.auto.offset.store']);

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The known name closest to `name`. */
export function nearestName(name: string, known: readonly string[]): string {
  let best = known[0];
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

export function checkKafkaParams(params: unknown): { groupId: string; brokers: string } {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new ConfigError(
      'kafkaParams',
      params,
      'must be an object of librdkafka consumer properties',
      'Pass e.g. { "bootstrap.servers": "127.0.0.1:9092", "group.id": "my-job" }.',
    );
  }
  const record = params as Record<string, unknown>;
  for (const [name, value] of Object.entries(record)) {
    const owned = OWNED_PROPERTIES[name];
    if (owned !== undefined && !(FALSE_ONLY.has(name) && (value === false || value === 'false'))) {
      throw new ConfigError(`kafkaParams["${name}"]`, value, 'is managed by the direct stream', `Why: ${owned}.`);
    }
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      // A misspelt secret ("sasl.pasword") is not recognized as one: name it, never its value.
      if (checkConsumerConfig({ [name]: '' })?.kind === 'unknown') throw unknownPropertyError(name);
      throw new ConfigError(`kafkaParams["${name}"]`, value, 'must be a string, number or boolean', 'Pass the value as librdkafka documents it.');
    }
  }
  const brokers = record['bootstrap.servers'] ?? record['metadata.broker.list'];
  if (typeof brokers !== 'string' || brokers.trim() === '') {
    throw new ConfigError(
      'kafkaParams["bootstrap.servers"]',
      brokers,
      'is required: a comma-separated list of host:port',
      'Pass e.g. "127.0.0.1:9092".',
    );
  }
  const groupId = record['group.id'];
  if (typeof groupId !== 'string' || groupId.trim() === '') {
    throw new ConfigError(
      'kafkaParams["group.id"]',
      groupId,
      'is required: offsets are stored per group, and Subscribe strategies join this consumer group',
      'Pass a name that identifies the job, e.g. "orders-aggregator".',
    );
  }
  checkWithLibrdkafka(record);
  return { groupId, brokers };
}

/** A property the linked librdkafka does not know, with the nearest name it documents. */
function unknownPropertyError(property: string): ConfigError {
  const known = documentedConsumerProperties();
  const suggestion = known.length > 0 ? `Did you mean "${nearestName(property, known)}"? ` : '';
  // The name, not the value: a misspelt "sasl.pasword" holds a password all the same.
  return new ConfigError(
    'kafkaParams',
    property,
    `must hold librdkafka consumer properties only, and librdkafka ${LIBRDKAFKA_VERSION} has no property of this name`,
    `${suggestion}See CONFIGURATION.md of librdkafka ${LIBRDKAFKA_VERSION}.`,
  );
}

/**
 * Lets librdkafka judge the properties (its version may know more than dstream does) and turns
 * its refusal into a `ConfigError` naming the property, the value (`***` for a secret) and the fix.
 */
function checkWithLibrdkafka(params: Readonly<Record<string, unknown>>): void {
  const refusal = checkConsumerConfig(params);
  if (refusal === undefined) return;
  const { property, kind, reason } = refusal;
  const docs = `See CONFIGURATION.md of librdkafka ${LIBRDKAFKA_VERSION}.`;
  switch (kind) {
    case 'unknown':
      throw unknownPropertyError(property);
    case 'producer-only':
      throw new ConfigError(
        `kafkaParams["${property}"]`,
        params[property],
        `is a producer property, which a consumer ignores (librdkafka ${LIBRDKAFKA_VERSION})`,
        `Remove it; set it on the producer instead. ${docs}`,
      );
    case 'invalid':
      throw new ConfigError(
        property === '' ? 'kafkaParams' : `kafkaParams["${property}"]`,
        property === '' ? undefined : params[property],
        `is refused by librdkafka ${LIBRDKAFKA_VERSION}: ${reason}`,
        `Pass a value librdkafka accepts for it. ${docs}`,
      );
  }
}
