import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';

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

/** A payment's fields, or an error naming what is wrong with it. */
export function parsePayment(text: string): readonly [string, number] {
  const [account, cents] = text.split(',');
  if (!account || !/^-?\d+$/.test(cents ?? '')) throw new Error(`not a payment "<account>,<cents>": ${JSON.stringify(text)}`);
  return [account, Number(cents)];
}

/**
 * Sums payments (`<account>,<amount in cents>`) per account into `account_balances`. Each batch's
 * upserts run on the store's transaction, which also writes the batch's offsets to
 * `dstream_offsets` and commits both at once: after any crash, PostgreSQL holds either a batch's
 * balances and its offsets, or neither, so every payment is added exactly once.
 *
 * A malformed payment makes `parsePayment` throw. Under the dead-letter policy the batch runs
 * again, and after the second failure the payment is set aside: it goes to
 * `dstream_dead_letters` in the same transaction as the batch's balances and offsets, and the job
 * goes on instead of stopping at it (the default policy, `'fail'`, would stop the job there).
 *
 * @example
 * const ssc = balancesJob({ brokers: '127.0.0.1:9092', connectionString: 'postgres://postgres@127.0.0.1/app', topic: 'payments', group: 'balances' });
 * await ssc.start();
 * await ssc.awaitTermination();
 */
export function balancesJob(settings: BalancesSettings): StreamingContext {
  const ssc = new StreamingContext({ appName: 'account-balances', batchIntervalMs: 500 });

  const payments = KafkaUtils.createDirectStream(ssc, {
    kafkaParams: { 'bootstrap.servers': settings.brokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Subscribe([settings.topic]),
    offsetStore: new PostgresOffsetStore({ connectionString: settings.connectionString }),
    delivery: 'exactly-once',
    startingOffsets: 'earliest',
    // Bounds each batch (here 100 records per partition per 500 ms); raise it for real traffic.
    maxRatePerPartition: 200,
    valueDeserializer: 'string',
    recordErrors: { policy: 'dead-letter', maxAttempts: 2 },
  });

  payments
    .map((payment) => parsePayment(payment.value))
    .reduceByKey((a, b) => a + b)
    .foreachBatch(async (sums, { transaction }) => {
      if (sums.length === 0) return;
      // One statement per batch: the accounts and amounts travel as two arrays.
      await transaction.query(
        `INSERT INTO account_balances (account, balance)
         SELECT * FROM unnest($1::text[], $2::bigint[])
         ON CONFLICT (account) DO UPDATE SET balance = account_balances.balance + EXCLUDED.balance`,
        [sums.map(([account]) => account), sums.map(([, cents]) => cents)],
      );
    });

  return ssc;
}
