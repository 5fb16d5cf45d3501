/** What the wire fetcher keeps of one assigned partition. */
import type { WatermarkOffsets } from '../kafkaCapabilities';
import type { FetchedRecords } from './FetchedRecords';

/** A partition as the fetcher tracks it. */
export interface WirePartition {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  /** The next offset to fetch. */
  fetchOffset: number;
  /** Fetched, not yet fully consumed, oldest first. */
  segments: FetchedRecords[];
  bufferedBytes: number;
  isPaused: boolean;
  /** Bumped by every seek: a response to a fetch sent before it is dropped. */
  generation: number;
  isInFlight: boolean;
  watermarks: WatermarkOffsets | undefined;
  /** The log end the last response reported was reached, and not reported to `consume` yet. */
  hasEndToReport: boolean;
  /** No fetch of it before this time (ms since the epoch): after an error. */
  retryAtMs: number;
  /** The fetch offset at which the end was last reported: a partition staying there is not reported again. */
  reportedEndAt: number;
}

/** Where `consume` goes on for a partition: the next record of its first unfinished segment, or its fetch offset. */
export function positionOf(state: WirePartition): number {
  for (const segment of state.segments) if (!segment.isDone) return segment.nextOffset;
  return state.fetchOffset;
}
