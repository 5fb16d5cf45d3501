/** Reading the ranges a running batch claimed from the fetcher, streamed or taken whole. */
import { IllegalStateError } from '../errors';
import type { OffsetRange } from '../offsets/OffsetRange';
import type { FetchedRecord } from './KafkaClient';
import type { PartitionFetcher } from './PartitionFetcher';
import type { Claim } from './PartitionOwnership';

/**
 * Hands `claim`'s records to `deliver` as the fetcher reads them (`PartitionFetcher.stream`),
 * recording in `claim.streamedThrough` how far each range got: a revoke meanwhile drops a partition
 * from the claim, or ends the ranges there (`claim.cut`, see `PartitionOwnership.drain`). Marks
 * the claim delivered once every range still wanted is complete.
 */
export async function streamClaim<R extends FetchedRecord>(
  stream: string,
  fetcher: PartitionFetcher<R>,
  claim: Claim,
  deliver: (range: OffsetRange, records: R[]) => void,
): Promise<void> {
  const streamedThrough = new Map(claim.ranges.map((range) => [range.key, range.fromOffset]));
  claim.streamedThrough = streamedThrough;
  await fetcher.stream(
    claim.ranges,
    (range, records) => {
      streamedThrough.set(range.key, records[records.length - 1].offset + 1);
      deliver(range, records);
    },
    (range) => claim.keys.has(range.key) && !claim.cut.has(range.key),
  );
  for (const range of claim.ranges) {
    if (!fetcher.has(range) && !claim.cut.has(range.key)) {
      throw new IllegalStateError(`${stream}: ${range} was claimed by a running batch but is no longer fetched`);
    }
  }
  claim.isDelivered = true;
}

/**
 * A claimed range's records. The fetcher keeps a claimed partition until the batch ends, so it
 * cannot be missing, unless the batch dropped it before delivering (undefined then).
 */
export async function takeClaimed<R extends FetchedRecord>(
  stream: string,
  fetcher: PartitionFetcher<R>,
  range: OffsetRange,
  claim: Claim,
): Promise<R[] | undefined> {
  const records = await fetcher.take(range);
  if (records === undefined) {
    if (!claim.keys.has(range.key)) return undefined;
    throw new IllegalStateError(`${stream}: ${range} was claimed by a running batch but is no longer fetched`);
  }
  return records;
}

