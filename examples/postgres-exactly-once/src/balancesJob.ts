import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import type { PoolClient } from 'pg';

/** Where the job reads and writes. */
export interface BalancesSettings {
  readonly brokers: string;
  readonly connectionString: string;
  readonly topic: string;
  readonly group: string;
}

/** The results table: one row per account. */
export const CREATE_BALANCES = `CREATE TABLE IF NOT EXISTS account_balances (
  account text PRIMARY KEY,
  balance bigint NOT NULL
)`;

/**
 * Sums payments (`<account>,<amount in cents>`) per account into `account_balances`. Each batch's
 * upserts run on the store's transaction, which also writes the batch's offsets to
 * `dstream_offsets` and commits both at once: after any crash, PostgreSQL holds either a batch's
 * balances and its offsets, or neither, so every payment is added exactly once.
 *
 * @example
 * const ssc = balancesJob({ brokers: '127.0.0.1:9092', connectionString: 'postgres://postgres@127.0.0.1/app', topic: 'payments', group: 'balances' });
 * await ssc.start();
 * await ssc.awaitTermination();
 */
export function balancesJob(settings: BalancesSettings): StreamingContext {
  const ssc = new StreamingContext({ appName: 'account-balances', batchIntervalMs: 500 });

  const payments = KafkaUtils.createDirectStream<Buffer | null, string>(ssc, {
    kafkaParams: { 'bootstrap.servers': settings.brokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Subscribe([settings.topic]),
    offsetStore: new PostgresOffsetStore({ connectionString: settings.connectionString }),
    delivery: 'exactly-once',
    startingOffsets: 'earliest',
    // Bounds each batch (here 100 records per partition per 500 ms); raise it for real traffic.
    maxRatePerPartition: 200,
    valueDeserializer: 'string',
  });

  payments
    .map((payment) => {
      const [account, cents] = payment.value.split(',');
      return [account, Number(cents)] as const;
    })
    .reduceByKey((a, b) => a + b)
    .foreachBatch<PoolClient>(async (sums, { transaction }) => {
      if (sums.length === 0) return;
      // One statement per batch: the accounts and amounts travel as two arrays.
      await transaction!.query(
        `INSERT INTO account_balances (account, balance)
         SELECT * FROM unnest($1::text[], $2::bigint[])
         ON CONFLICT (account) DO UPDATE SET balance = account_balances.balance + EXCLUDED.balance`,
        [sums.map(([account]) => account), sums.map(([, cents]) => cents)],
      );
    });

  return ssc;
}
