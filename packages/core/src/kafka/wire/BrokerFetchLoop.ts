/** One partition leader's fetch loop for a `WireFetcher`: one Fetch request in flight, sent again as soon as partitions are due. */
import { KafkaError } from '../../errors';
import { BrokerConnection } from './BrokerConnection';
import type { BrokerAddress } from './BrokerConnection';
import { API_KEY_FETCH, FETCH_VERSION, fetch, requestApiVersions } from './fetchProtocol';
import type { WireFetcher, WirePartition } from './WireFetcher';

/** Wait before fetching a partition again after an error, and the longest wait after a broker failed repeatedly. */
export const RETRY_BACKOFF_MS = 200;
const MAX_BROKER_BACKOFF_MS = 2000;

/** One leader's fetch loop: asks the `WireFetcher` which partitions are due, fetches them, hands the answer back. */
export class BrokerFetchLoop {
  private connection: BrokerConnection | undefined;
  private isStopped = false;
  private wakeUp: (() => void) | undefined;
  private rotation = 0;
  private failuresInRow = 0;

  constructor(
    private readonly broker: number,
    private readonly address: BrokerAddress,
    private readonly fetcher: WireFetcher,
  ) {}

  wake(): void {
    this.wakeUp?.();
  }

  stop(): void {
    this.isStopped = true;
    this.connection?.close();
    this.wake();
  }

  async run(): Promise<void> {
    const options = this.fetcher.fetchOptions;
    while (!this.isStopped && this.fetcher.hasPartitionsOn(this.broker)) {
      const due = this.fetcher.partitionsToFetch(this.broker, this.rotation++);
      if (due.length === 0) {
        const retryMs = this.fetcher.nextRetryMs(this.broker);
        await this.idle(retryMs === undefined ? 1000 : Math.max(1, retryMs - Date.now()));
        continue;
      }
      const sent = due.map((state) => ({ state, generation: state.generation, offset: state.fetchOffset }));
      for (const { state } of sent) state.isInFlight = true;
      try {
        const connection = await this.connect();
        const { maxBytes, partitionMaxBytes } = this.fetcher.fetchLimits();
        const response = await fetch(
          connection,
          {
            maxWaitMs: options.maxWaitMs,
            // A broker holds a fetch until min_bytes are there, counted within the limits: never ask more.
            minBytes: Math.min(options.minBytes, maxBytes, partitionMaxBytes * sent.length),
            maxBytes,
            isReadCommitted: options.isReadCommitted,
            topics: groupByTopic(sent.map(({ state, offset }) => ({ state, offset })), partitionMaxBytes),
          },
          options.requestTimeoutMs,
        );
        this.failuresInRow = 0;
        this.fetcher.accept(sent, response.partitions);
      } catch (error) {
        this.fetcher.failed(sent);
        if (this.isStopped) break;
        this.connection?.close();
        this.connection = undefined;
        this.failuresInRow++;
        const kafkaError =
          error instanceof KafkaError ? error : new KafkaError(`fetch from broker ${describe(this.address)} failed: ${String(error)}`, { retriable: true, cause: error });
        // Retried without telling consume, as librdkafka retries a lost connection: a fetch that
        // stays stuck surfaces as the batch's fetch timeout. Logged at the first failure and every tenth.
        if (this.failuresInRow % 10 === 1) {
          options.logger?.warn(`fetch from broker ${this.broker} (${describe(this.address)}) failed, retrying: ${kafkaError.message}`);
        }
        await this.idle(Math.min(MAX_BROKER_BACKOFF_MS, RETRY_BACKOFF_MS * 2 ** (this.failuresInRow - 1)));
      }
    }
    this.connection?.close();
  }

  private async connect(): Promise<BrokerConnection> {
    if (this.connection !== undefined && !this.connection.isClosed) return this.connection;
    const options = this.fetcher.fetchOptions;
    const connection = await BrokerConnection.connect(this.address, {
      clientId: options.clientId,
      connectTimeoutMs: options.connectTimeoutMs,
    });
    if (this.isStopped) {
      connection.close();
      throw new KafkaError('fetcher closed');
    }
    try {
      const versions = await requestApiVersions(connection, options.connectTimeoutMs);
      const fetchVersions = versions.get(API_KEY_FETCH);
      if (fetchVersions === undefined || fetchVersions.min > FETCH_VERSION || fetchVersions.max < FETCH_VERSION) {
        const range = fetchVersions === undefined ? 'none' : `${fetchVersions.min}-${fetchVersions.max}`;
        this.fetcher.unsupported(`broker ${describe(this.address)} serves Fetch versions ${range}, not ${FETCH_VERSION}`);
        this.isStopped = true;
        throw new KafkaError('unsupported broker');
      }
    } catch (error) {
      connection.close();
      throw error;
    }
    this.connection = connection;
    return connection;
  }

  private idle(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.wakeUp = undefined;
        resolve();
      }
      this.wakeUp = done;
    });
  }
}

function groupByTopic(
  sent: ReadonlyArray<{ readonly state: WirePartition; readonly offset: number }>,
  partitionMaxBytes: number,
): Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: number; partitionMaxBytes: number }> }> {
  const topics = new Map<string, Array<{ partition: number; fetchOffset: number; partitionMaxBytes: number }>>();
  for (const { state, offset } of sent) {
    let partitions = topics.get(state.topic);
    if (partitions === undefined) topics.set(state.topic, (partitions = []));
    partitions.push({ partition: state.partition, fetchOffset: offset, partitionMaxBytes });
  }
  return [...topics].map(([topic, partitions]) => ({ topic, partitions }));
}

function describe(address: BrokerAddress): string {
  return `${address.host}:${address.port}`;
}
