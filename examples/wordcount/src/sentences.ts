import Kafka from 'node-rdkafka';

const WORDS = [
  'stream', 'batch', 'offset', 'kafka', 'partition', 'record', 'window', 'state', 'commit', 'restart',
  'exactly', 'once', 'lag', 'broker', 'consumer', 'group', 'checkpoint', 'range', 'interval', 'job',
];

/** A deterministic sentence for record `i` (so a run's expected word counts can be recomputed). */
export function sentence(i: number): string {
  const length = 3 + (i % 5);
  const words: string[] = [];
  for (let w = 0; w < length; w++) words.push(WORDS[(i * 7 + w * 13 + (i >> 3)) % WORDS.length]);
  return words.join(' ');
}

/** Word counts of records [0, count): what a job that read every record once must report. */
export function expectedCounts(count: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    for (const word of sentence(i).split(' ')) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

/** Creates `topic` with `partitions` partitions; an existing topic is fine. */
export async function createTopic(brokers: string, topic: string, partitions: number): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers });
  try {
    await new Promise<void>((resolve, reject) =>
      admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 15000, (error) => {
        // Error code 36: TOPIC_ALREADY_EXISTS.
        if (error && error.code !== 36) reject(error);
        else resolve();
      }),
    );
  } finally {
    admin.disconnect();
  }
}

/**
 * Writes `count` sentences to `topic` at about `ratePerSecond`, keyed by record number, and
 * resolves once every one is acknowledged by the broker.
 */
export async function produceSentences(
  brokers: string,
  topic: string,
  count: number,
  ratePerSecond: number,
  signal?: AbortSignal,
): Promise<number> {
  const producer = new Kafka.HighLevelProducer({
    'bootstrap.servers': brokers,
    'enable.idempotence': true,
    'linger.ms': 5,
  });
  await new Promise<void>((resolve, reject) => {
    producer.once('ready', () => resolve());
    producer.once('event.error', reject);
    producer.connect({ timeout: 10000 }, (error) => error && reject(error));
  });
  producer.setPollInterval(50);
  const started = Date.now();
  const pending: Promise<void>[] = [];
  let sent = 0;
  try {
    for (; sent < count && !signal?.aborted; sent++) {
      pending.push(
        new Promise<void>((resolve, reject) =>
          producer.produce(topic, null, Buffer.from(sentence(sent)), `s${sent}`, Date.now(), (error) =>
            error ? reject(error) : resolve(),
          ),
        ),
      );
      const due = started + ((sent + 1) * 1000) / ratePerSecond;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await Promise.all(pending);
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
  return sent;
}
