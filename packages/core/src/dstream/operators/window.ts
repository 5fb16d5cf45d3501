import { defineOperator, DStream } from '../graph';
import { batchOf } from '../batchOf';
import { requireWindowDurations } from '../requireWindowDurations';

/**
 * `source.window(windowMs, slideMs)`: every `slideMs`, the records of `source`'s batches in
 * `(time - windowMs, time]`, oldest batch first (Spark's `WindowedDStream`). Batches before the
 * context's zero time do not exist, so the first windows hold fewer batches.
 */
export function window<T>(source: DStream<T>, windowMs: number, slideMs: number = source.slideDurationMs): DStream<T> {
  requireWindowDurations('window', source, windowMs, slideMs);
  const parentSlideMs = source.slideDurationMs;
  const stream = new DStream<T>(source.context, {
    name: 'window',
    slideDurationMs: slideMs,
    dependencies: [source],
    // The parent's batches are read again for as long as they lie in some window (Spark's
    // WindowedDStream.parentRememberDuration).
    parentRememberMs: (rememberMs) => rememberMs + windowMs,
    // Computed while current, so a Kafka parent reads each batch before its offsets commit.
    prepare: async (time) => {
      await batchOf(source, time);
    },
    compute: async (time) => {
      const zeroTimeMs = source.context.zeroTimeMs;
      const pending: Promise<readonly T[]>[] = [];
      for (let batchTime = time - windowMs + parentSlideMs; batchTime <= time; batchTime += parentSlideMs) {
        if (batchTime > zeroTimeMs) pending.push(batchOf(source, batchTime));
      }
      const batches = await Promise.all(pending);
      return batches.length === 1 ? batches[0] : ([] as T[]).concat(...batches);
    },
  });
  stream.remember(stream.rememberDurationMs);
  return stream;
}

declare module '../graph' {
  interface DStream<T> {
    /**
     * Every `slideMs` (default: this stream's slide), the records of this stream's batches in
     * `(time - windowMs, time]`, oldest batch first (Spark's window). Both durations must be
     * multiples of this stream's slide. The first windows after start hold fewer batches: the window
     * starts at the context's zero time. This stream's batches are kept while they lie in a window.
     *
     * @example
     * events.window(60_000, 10_000); // every 10 s, the last minute of events
     */
    window(windowMs: number, slideMs?: number): DStream<T>;
  }
}

defineOperator('window', window);
