import { KafkaError } from '../errors';
import { OffsetRange } from '../offsets/OffsetRange';
import { ManualClock } from '../testing/ManualClock';
import { silentLogger } from '../util/Logger';
import type { ConsumeResult, FetchedRecord, KafkaConsumerClient } from './KafkaClient';
import { PartitionFetcher } from './PartitionFetcher';

/** A consumer whose log never grows: every `consume` returns nothing after a turn of the event loop. */
function emptyConsumer(failures: Error[] = []): KafkaConsumerClient & { consumes: number } {
  const client = {
    consumes: 0,
    async consume(): Promise<ConsumeResult<FetchedRecord>> {
      client.consumes++;
      await new Promise((resolve) => setImmediate(resolve));
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      return { messages: [], sizes: [], endsReached: [] };
    },
    pause: () => undefined,
    resume: () => undefined,
    seek: async () => undefined,
  };
  return client as unknown as KafkaConsumerClient & { consumes: number };
}

function fetcherOn(client: KafkaConsumerClient, clock: ManualClock): PartitionFetcher<FetchedRecord> {
  return new PartitionFetcher(client, {
    build: (topic, partition, offset) => ({ topic, partition, offset }),
    maxReadAheadBytes: 2 ** 20,
    fetchTimeoutMs: 5000,
    logger: silentLogger,
    clock,
  });
}

describe('PartitionFetcher', () => {
  it('times a take out after fetchTimeoutMs on the injected clock, not on wall-clock time', async () => {
    const clock = new ManualClock(0);
    const fetcher = fetcherOn(emptyConsumer(), clock);
    fetcher.add([{ topic: 't', partition: 0, offset: 0 }]);
    fetcher.start();
    let outcome: unknown;
    const taken = fetcher.take(OffsetRange.create('t', 0, 0, 10)).then(
      (records) => (outcome = records),
      (error: unknown) => (outcome = error),
    );
    await clock.advance(4999);
    expect(outcome).toBeUndefined();
    await clock.advance(1);
    await taken;
    expect(outcome).toBeInstanceOf(KafkaError);
    expect((outcome as KafkaError).retriable).toBe(true);
    expect((outcome as KafkaError).message).toMatch(/timed out after 5000 ms fetching t-0 \[0, 10\): read up to offset 0/);
    await fetcher.stop();
  });

  it('paces consume retries after a transient failure on the clock, and stop ends the pause', async () => {
    const clock = new ManualClock(0);
    const client = emptyConsumer([new KafkaError('broker restarting', { retriable: true })]);
    const fetcher = fetcherOn(client, clock);
    fetcher.start();
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    // The loop waits out pollTimeoutMs (100 ms) of clock time before consuming again.
    expect(client.consumes).toBe(1);
    await clock.advance(100);
    expect(client.consumes).toBeGreaterThan(1);
    await fetcher.stop();
  });

  it('stops while the consume loop pauses after a failure, without the clock moving', async () => {
    const clock = new ManualClock(0);
    const fetcher = fetcherOn(emptyConsumer([new KafkaError('broker restarting', { retriable: true })]), clock);
    fetcher.start();
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    await fetcher.stop();
    expect(clock.waiterCount).toBe(0);
  });
});
