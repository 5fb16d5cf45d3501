import Kafka from 'node-rdkafka';

/** One event of either topic, as JSON in the record's value: the ad shown (impression) or clicked (click). */
export interface AdEvent {
  readonly impressionId: string;
  readonly adId: string;
}

/** Impressions and clicks of one ad. */
export interface AdTotals {
  impressions: number;
  clicks: number;
}

const AD_COUNT = 8;

/** The ad shown by impression `i`: spread over `ad-0` … `ad-7`, deterministically. */
export function adOf(i: number): string {
  return `ad-${(i * 5 + (i >> 4)) % AD_COUNT}`;
}

/**
 * Whether impression `i` is clicked. Each ad has its own click-through rate (2 % for ad-0 up to
 * 23 % for ad-7), so the output shows distinct rates; a multiplicative hash of `i` decides.
 */
export function isClicked(i: number): boolean {
  const adIndex = Number(adOf(i).slice('ad-'.length));
  return (Math.imul(i + 1, 2654435761) >>> 0) % 100 < 2 + adIndex * 3;
}

/** Impressions and clicks per ad for impressions [0, count): what a job that read every record once must report. */
export function expectedTotals(count: number): Map<string, AdTotals> {
  const totals = new Map<string, AdTotals>();
  for (let i = 0; i < count; i++) {
    const ad = adOf(i);
    const entry = totals.get(ad) ?? { impressions: 0, clicks: 0 };
    entry.impressions += 1;
    if (isClicked(i)) entry.clicks += 1;
    totals.set(ad, entry);
  }
  return totals;
}

/**
 * Reads a record value as an `AdEvent`. Throws on anything else; inside the direct stream that
 * becomes a `RecordProcessingError` naming the record's topic, partition and offset.
 */
export function parseAdEvent(data: Buffer | null): AdEvent {
  if (data === null) throw new Error('record has no value (tombstone); expected {"impressionId","adId"} JSON');
  const event = JSON.parse(data.toString('utf8')) as Partial<AdEvent> | null;
  if (typeof event?.impressionId !== 'string' || typeof event.adId !== 'string') {
    throw new Error(`expected {"impressionId","adId"} JSON with string fields; got ${data.toString('utf8').slice(0, 200)}`);
  }
  return { impressionId: event.impressionId, adId: event.adId };
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
 * Writes `count` impressions to `impressionsTopic` at about `ratePerSecond`, each clicked one
 * followed by its click on `clicksTopic`, keyed by ad id so one ad's events stay in order within
 * a partition. Resolves with what was sent once the broker acknowledged every record.
 */
export async function produceAdEvents(
  brokers: string,
  impressionsTopic: string,
  clicksTopic: string,
  count: number,
  ratePerSecond: number,
): Promise<AdTotals> {
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
  const send = (topic: string, event: AdEvent) =>
    new Promise<void>((resolve, reject) =>
      producer.produce(topic, null, Buffer.from(JSON.stringify(event)), event.adId, Date.now(), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  const started = Date.now();
  const pending: Promise<void>[] = [];
  const sent: AdTotals = { impressions: 0, clicks: 0 };
  try {
    for (let i = 0; i < count; i++) {
      const event: AdEvent = { impressionId: `imp-${i}`, adId: adOf(i) };
      pending.push(send(impressionsTopic, event));
      sent.impressions += 1;
      if (isClicked(i)) {
        pending.push(send(clicksTopic, event));
        sent.clicks += 1;
      }
      const wait = started + ((i + 1) * 1000) / ratePerSecond - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await Promise.all(pending);
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
  return sent;
}
