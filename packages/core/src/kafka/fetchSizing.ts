/**
 * How much the direct stream's `PartitionFetcher` asks for at once and keeps ahead of the batches,
 * for the two fetch engines: librdkafka's, whose calls are costly and whose prefetched data a
 * pause drops, and the wire fetcher's, whose calls cost next to nothing and whose queue already
 * holds the next records as raw response bytes.
 */

/**
 * Records one `consume` call asks for in a job with batches `batchIntervalMs` apart: 10 per
 * millisecond of the interval, between 1 000 and 10 000. node-rdkafka turns what one call brought
 * into JavaScript objects in one go, ~7-9 µs a record here, and a batch due meanwhile waits for
 * it: 10 000 at once held 100 ms batches at half load to a p99 scheduling delay of ~100 ms, 1 000
 * to 1 ms, for 13% less rate while draining a backlog. From the wire fetcher (`overWire`), whose
 * calls cost next to nothing, at most 2 000: records made in small chunks die in V8's young
 * generation instead of being promoted with the responses they point into (a word count peaked
 * at 169-186 MB of RSS against 190-216 MB with 10 000; docs/benchmarks.md).
 */
export function pollBatchSizeFor(batchIntervalMs: number, overWire = false): number {
  return Math.min(overWire ? 2_000 : 10_000, Math.max(1_000, Math.round(batchIntervalMs * 10)));
}

/**
 * The fetcher's read-ahead budget (`PartitionFetcherOptions.maxReadAheadBytes`): records made
 * before a batch needs them. Through librdkafka, `maxBatchBytes`: its queue refills only as
 * records are taken from it, and a pause drops what it prefetched. Over the wire, none: the wire
 * fetcher's queue of raw responses (~100 bytes a record of this kind, not ~460 as objects) is the
 * read-ahead, and a record is made only when a batch asks for it. Records made ahead waited for
 * the next batch as objects, outlived V8's young-generation collections and were promoted to die
 * in the old generation: a word count over 10 M records peaked at 187-190 MB of RSS with none,
 * 210 MB with an eighth of `maxBatchBytes`, at the same rate (docs/benchmarks.md).
 */
export function readAheadBytesFor(maxBatchBytes: number, overWire = false): number {
  return overWire ? 0 : maxBatchBytes;
}
