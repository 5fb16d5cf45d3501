/**
 * Who is in a consumer group right now, asked of the group coordinator with Kafka's own
 * DescribeGroups request, the request `kafka-consumer-groups --describe --members` sends.
 *
 * node-rdkafka 3.x exposes no group-describing admin call, and a client that joined the group to
 * find out would trigger a rebalance of the very job it inspects; so this module speaks the few
 * wire-protocol requests it needs (ApiVersions, FindCoordinator, DescribeGroups) over core's plain
 * TCP broker connection, encoding the FindCoordinator and DescribeGroups bodies itself. It therefore
 * needs a PLAINTEXT listener (see docs/cli.md).
 */
import { KafkaError } from '@dstream/core';
import { BrokerConnection, requestApiVersions } from '@dstream/core/internal';
import type { BrokerAddress } from '@dstream/core/internal';

/** A consumer group as its coordinator describes it. */
export interface GroupDescription {
  readonly groupId: string;
  /** `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Dead`, … */
  readonly state: string;
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly clientId: string; readonly host: string }>;
}

const FIND_COORDINATOR = 10;
const DESCRIBE_GROUPS = 15;
/** Versions this module encodes: the non-flexible ones (flexible versions use compact encodings). */
const SUPPORTED: Readonly<Record<number, readonly [number, number]>> = {
  [FIND_COORDINATOR]: [1, 2],
  [DESCRIBE_GROUPS]: [1, 4],
};
const CLIENT_ID = 'dstream-cli';
/** Retried: the coordinator is loading or moving (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR). */
const RETRIABLE_ERRORS = new Set([14, 15, 16]);
const GROUP_ID_NOT_FOUND = 69;
const MAX_ATTEMPTS = 10;

/** Writes request bodies in Kafka's binary encoding (big-endian, length-prefixed strings and arrays). */
class Writer {
  private readonly parts: Buffer[] = [];

  int8(value: number): this {
    const buffer = Buffer.alloc(1);
    buffer.writeInt8(value);
    return this.push(buffer);
  }

  int16(value: number): this {
    const buffer = Buffer.alloc(2);
    buffer.writeInt16BE(value);
    return this.push(buffer);
  }

  int32(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value);
    return this.push(buffer);
  }

  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    return this.int16(bytes.length).push(bytes);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }

  private push(buffer: Buffer): this {
    this.parts.push(buffer);
    return this;
  }
}

/** Reads a response in Kafka's binary encoding. */
class Reader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  int16(): number {
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    const value = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  string(): string {
    return this.nullableString() ?? '';
  }

  bytes(): void {
    const length = this.int32();
    if (length > 0) this.offset += length;
  }

  array<T>(item: () => T): T[] {
    const length = this.int32();
    const items: T[] = [];
    for (let i = 0; i < length; i++) items.push(item());
    return items;
  }
}

/** The highest version both this module and the broker speak; throws naming the request and both version ranges when there is none. */
async function negotiate(connection: BrokerConnection, apiKey: number, timeoutMs: number): Promise<number> {
  const versions = await requestApiVersions(connection, timeoutMs);
  const broker = versions.get(apiKey);
  const [ourMin, ourMax] = SUPPORTED[apiKey];
  const version = Math.min(ourMax, broker?.max ?? -1);
  if (broker === undefined || version < Math.max(ourMin, broker.min)) {
    const { host, port } = connection.address;
    throw new Error(
      `the broker at ${host}:${port} speaks versions ${broker ? `${broker.min}-${broker.max}` : 'none'} of ` +
        `request ${apiKey}; this tool speaks ${ourMin}-${ourMax}`,
    );
  }
  return version;
}

/** Opens a connection to one broker, named `dstream-cli` in the broker's logs and quotas. */
function connectTo(address: BrokerAddress, timeoutMs: number): Promise<BrokerConnection> {
  return BrokerConnection.connect(address, { clientId: CLIENT_ID, connectTimeoutMs: timeoutMs });
}

function parseBroker(address: string): BrokerAddress {
  const trimmed = address.trim().replace(/^[a-z]+:\/\//i, '');
  const colon = trimmed.lastIndexOf(':');
  const host = colon < 0 ? trimmed : trimmed.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = colon < 0 ? 9092 : Number(trimmed.slice(colon + 1));
  return { host, port };
}

/** Finds the group's coordinator through the first reachable bootstrap broker. */
async function findCoordinator(brokers: string, group: string, timeoutMs: number): Promise<BrokerAddress> {
  let lastError: unknown;
  for (const address of brokers.split(',')) {
    let connection: BrokerConnection | undefined;
    try {
      connection = await connectTo(parseBroker(address), timeoutMs);
      const version = await negotiate(connection, FIND_COORDINATOR, timeoutMs);
      for (let attempt = 1; ; attempt++) {
        const body = new Writer().string(group).int8(0 /* key type: group */).toBuffer();
        const reader = new Reader(await connection.request(FIND_COORDINATOR, version, body, timeoutMs));
        reader.int32(); // throttle_time_ms
        const errorCode = reader.int16();
        const errorMessage = reader.nullableString();
        reader.int32(); // node_id
        const coordinator = { host: reader.string(), port: reader.int32() };
        if (errorCode === 0) return coordinator;
        if (!RETRIABLE_ERRORS.has(errorCode) || attempt >= MAX_ATTEMPTS) {
          throw new Error(`FindCoordinator failed with error code ${errorCode}${errorMessage ? ` (${errorMessage})` : ''}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    } catch (error) {
      lastError = error;
    } finally {
      connection?.close();
    }
  }
  throw lastError;
}

/**
 * Describes `group` on its coordinator: its state and its members. A group that does not exist
 * (never joined, or expired) is reported `Dead` with no members, as the broker does.
 *
 * @example
 * const { state, members } = await describeGroup('127.0.0.1:9092', 'wordcount', 10_000);
 */
export async function describeGroup(brokers: string, group: string, timeoutMs: number): Promise<GroupDescription> {
  try {
    for (let attempt = 1; ; attempt++) {
      const coordinator = await findCoordinator(brokers, group, timeoutMs);
      const connection = await connectTo(coordinator, timeoutMs);
      try {
        const version = await negotiate(connection, DESCRIBE_GROUPS, timeoutMs);
        const body = new Writer().int32(1).string(group);
        if (version >= 3) body.int8(0); // include_authorized_operations
        const reader = new Reader(await connection.request(DESCRIBE_GROUPS, version, body.toBuffer(), timeoutMs));
        reader.int32(); // throttle_time_ms
        const [described] = reader.array(() => {
          const errorCode = reader.int16();
          const groupId = reader.string();
          const state = reader.string();
          reader.string(); // protocol_type
          reader.string(); // protocol_data
          const members = reader.array(() => {
            const memberId = reader.string();
            if (version >= 4) reader.nullableString(); // group_instance_id
            const clientId = reader.string();
            const clientHost = reader.string();
            reader.bytes(); // member_metadata
            reader.bytes(); // member_assignment
            return { memberId, clientId, host: clientHost };
          });
          if (version >= 3) reader.int32(); // authorized_operations
          return { errorCode, groupId, state, members };
        });
        if (described === undefined) throw new Error('DescribeGroups returned no group');
        if (described.errorCode === 0) return { groupId: described.groupId, state: described.state, members: described.members };
        if (described.errorCode === GROUP_ID_NOT_FOUND) return { groupId: group, state: 'Dead', members: [] };
        if (!RETRIABLE_ERRORS.has(described.errorCode) || attempt >= MAX_ATTEMPTS) {
          throw new Error(`DescribeGroups failed with error code ${described.errorCode}`);
        }
      } finally {
        connection.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  } catch (error) {
    throw new KafkaError(
      `could not describe consumer group ${group} through Kafka at ${brokers}: ${(error as Error).message}. ` +
        'Check --bootstrap-servers and that a PLAINTEXT listener is reachable, or pass --force to skip the check ' +
        'after making sure no job of this group runs',
      { retriable: true, cause: error },
    );
  }
}
