import type { ExampleRecord } from '@dstream/example-support';

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

/**
 * Impressions [0, count) as records for `produce`: each to `impressionsTopic`, each clicked one
 * followed by its click on `clicksTopic`, keyed by ad id so one ad's events stay in order within
 * a partition.
 */
export function* adEventRecords(count: number, impressionsTopic: string, clicksTopic: string): Generator<ExampleRecord> {
  for (let i = 0; i < count; i++) {
    const event: AdEvent = { impressionId: `imp-${i}`, adId: adOf(i) };
    const value = JSON.stringify(event);
    yield { key: event.adId, value, topic: impressionsTopic };
    if (isClicked(i)) yield { key: event.adId, value, topic: clicksTopic };
  }
}
