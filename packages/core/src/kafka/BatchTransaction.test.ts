import { StreamingContext } from '../context/StreamingContext';
import type { BatchContext } from '../context/types';
import { InMemoryOffsetStore, type InMemoryTransaction } from '../offsets/InMemoryOffsetStore';
import type { OffsetStore } from '../offsets/OffsetStore';
import { ManualClock } from '../testing/ManualClock';
import type { BatchTransaction, KeyOf, ValueOf } from './BatchTransaction';
import { ConsumerStrategies } from './ConsumerStrategies';
import type { DeliverySemantics } from './DirectStreamOptions';
import { KafkaUtils } from './KafkaUtils';

// Type-level checks: `npx tsc -p tsconfig.test.json` fails when one of these types is wrong.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const isType = <T extends true>(): T | undefined => undefined;

/** A store typed as the general interface: whether it has transactions is not known. */
declare const someStore: OffsetStore<'tx'>;
/** A store that declares it has none. */
declare const plainStore: OffsetStore & { readonly supportsTransactions: false };
type Options<S, Rest> = { readonly offsetStore: S } & Rest;

isType<Equal<BatchTransaction<Options<InMemoryOffsetStore, { delivery: 'exactly-once' }>>, InMemoryTransaction>>();
isType<Equal<BatchTransaction<Options<InMemoryOffsetStore, { delivery: 'exactly-once'; idempotentOutput: false }>>, InMemoryTransaction>>();
isType<Equal<BatchTransaction<Options<InMemoryOffsetStore, { delivery: 'exactly-once'; idempotentOutput: true }>>, undefined>>();
isType<Equal<BatchTransaction<Options<InMemoryOffsetStore, { delivery: 'exactly-once'; idempotentOutput: boolean }>>, InMemoryTransaction | undefined>>();
isType<Equal<BatchTransaction<Options<InMemoryOffsetStore, { delivery: 'at-least-once' }>>, undefined>>();
isType<Equal<BatchTransaction<Options<InMemoryOffsetStore, { delivery: 'at-most-once' }>>, undefined>>();
isType<Equal<BatchTransaction<Options<InMemoryOffsetStore, {}>>, undefined>>();
isType<Equal<BatchTransaction<Options<InMemoryOffsetStore, { delivery: DeliverySemantics }>>, InMemoryTransaction | undefined>>();
isType<Equal<BatchTransaction<Options<typeof someStore, { delivery: 'exactly-once' }>>, 'tx' | undefined>>();
isType<Equal<BatchTransaction<Options<typeof plainStore, { delivery: 'exactly-once'; idempotentOutput: true }>>, undefined>>();
isType<Equal<KeyOf<{}>, Buffer | null>>();
isType<Equal<ValueOf<{ valueDeserializer: 'string' }>, string>>();
isType<Equal<ValueOf<{ valueDeserializer: 'json' }>, unknown>>();
isType<Equal<ValueOf<{ valueDeserializer: (data: Buffer | null) => number }>, number>>();

describe('BatchTransaction', () => {
  it('types the outputs of an exactly-once stream with the store transaction, through operators', () => {
    const ssc = new StreamingContext({ appName: 'typed', batchIntervalMs: 100, clock: new ManualClock(0), stopOnSignals: false });
    const stream = KafkaUtils.createDirectStream(ssc, {
      kafkaParams: { 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'g' },
      strategy: ConsumerStrategies.Assign([{ topic: 't', partition: 0 }]),
      offsetStore: new InMemoryOffsetStore(),
      delivery: 'exactly-once',
      valueDeserializer: 'string',
    });
    const seen: Array<BatchContext<InMemoryTransaction>> = [];
    stream
      .map((record) => [record.value, 1] as const)
      .reduceByKey((a, b) => a + b)
      .foreachBatch((counts, batch) => {
        isType<Equal<typeof batch.transaction, InMemoryTransaction>>();
        for (const [word, n] of counts) batch.transaction.set(word, n);
        seen.push(batch);
      });
    const plain = KafkaUtils.createDirectStream(ssc, {
      kafkaParams: { 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'h' },
      strategy: ConsumerStrategies.Assign([{ topic: 't', partition: 0 }]),
      offsetStore: new InMemoryOffsetStore(),
    });
    plain.foreachBatch((records, batch) => {
      isType<Equal<typeof records, readonly import('./DirectStreamOptions').ConsumerRecord<Buffer | null, Buffer | null>[]>>();
      isType<Equal<typeof batch.transaction, undefined>>();
    });
    expect(seen).toEqual([]);
  });
});
