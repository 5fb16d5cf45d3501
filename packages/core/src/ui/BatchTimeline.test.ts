import { OffsetRange } from '../offsets/OffsetRange';
import type { BatchInfo } from '../scheduler/events';
import { BatchTimeline } from './BatchTimeline';

const range = (from: number, until: number) => OffsetRange.create('t', 0, from, until);

function info(batchTimeMs: number, numRecords: number, failure?: Error): BatchInfo {
  return {
    batchTimeMs,
    offsetRanges: [range(0, numRecords)],
    numRecords,
    numDeadLetters: 0,
    numAttempts: 1,
    submissionTimeMs: batchTimeMs,
    processingStartTimeMs: batchTimeMs + 5,
    processingEndTimeMs: batchTimeMs + 25,
    schedulingDelayMs: 5,
    processingDelayMs: 20,
    totalDelayMs: 25,
    failure,
  };
}

describe('BatchTimeline', () => {
  it('follows a batch from queued to processing to completed, with its input rate', () => {
    const timeline = new BatchTimeline();
    timeline.onStreamingStarted({ type: 'StreamingStarted', appName: 'app', timeMs: 0, batchIntervalMs: 500, zeroTimeMs: 0 });
    timeline.onBatchSubmitted({ type: 'BatchSubmitted', batchTimeMs: 500, submissionTimeMs: 501, offsetRanges: [range(0, 40)] });
    expect(timeline.snapshot().active).toEqual([
      { batchTimeMs: 500, status: 'queued', submissionTimeMs: 501, processingStartTimeMs: undefined, offsetRanges: [range(0, 40).toJSON()] },
    ]);
    timeline.onBatchStarted({ type: 'BatchStarted', batchTimeMs: 500, submissionTimeMs: 501, processingStartTimeMs: 510, schedulingDelayMs: 9, offsetRanges: [range(0, 40)] });
    expect(timeline.snapshot().active[0]).toMatchObject({ status: 'processing', processingStartTimeMs: 510 });
    timeline.onBatchCompleted({ type: 'BatchCompleted', info: info(500, 40) });
    const snapshot = timeline.snapshot();
    expect(snapshot).toMatchObject({ app: 'app', status: 'active', completedBatches: 1, failedBatches: 0, totalRecords: 40, active: [] });
    // 40 records in a 500 ms interval.
    expect(snapshot.completed).toEqual([expect.objectContaining({ batchTimeMs: 500, numRecords: 40, inputRate: 80, failure: undefined })]);
  });

  it('counts a failed batch apart and keeps the error of a failed context', () => {
    const timeline = new BatchTimeline();
    timeline.onBatchCompleted({ type: 'BatchCompleted', info: info(1000, 10, new Error('sink down')) });
    timeline.onError({ type: 'StreamingError', timeMs: 1100, error: new Error('sink down') });
    timeline.onStreamingStopped({ type: 'StreamingStopped', timeMs: 1200, graceful: false, abandonedBatchTimesMs: [], error: new Error('sink down') });
    expect(timeline.snapshot()).toMatchObject({ status: 'stopped', completedBatches: 0, failedBatches: 1, totalRecords: 0, error: 'sink down' });
    expect(timeline.snapshot().completed[0]!.failure).toBe('sink down');
  });

  it('keeps the latest retainedBatches finished batches, and a snapshot can ask for fewer', () => {
    const timeline = new BatchTimeline(3);
    for (let k = 1; k <= 5; k++) timeline.onBatchCompleted({ type: 'BatchCompleted', info: info(k * 1000, k) });
    expect(timeline.snapshot().completed.map((b) => b.batchTimeMs)).toEqual([3000, 4000, 5000]);
    expect(timeline.snapshot(2).completed.map((b) => b.batchTimeMs)).toEqual([4000, 5000]);
    expect(timeline.snapshot().completedBatches).toBe(5);
  });

  it('keeps the last commit per store and input, and tells change listeners until they unsubscribe', () => {
    const timeline = new BatchTimeline();
    let changes = 0;
    const unsubscribe = timeline.onChange(() => changes++);
    const commit = (store: string, until: number, outcome: 'committed' | 'conflict') =>
      timeline.onOffsetCommitCompleted({
        type: 'OffsetCommitCompleted', input: 'kafka[t]', store, group: 'g', timeMs: until, durationMs: 2,
        offsetRanges: [range(0, until)], outcome, error: outcome === 'conflict' ? new Error('stale') : undefined,
      });
    commit('redis', 10, 'committed');
    commit('redis', 20, 'conflict');
    commit('kafka', 20, 'committed');
    expect(timeline.snapshot().commits.map((c) => [c.store, c.offsetRanges[0]!.untilOffset, c.outcome, c.error])).toEqual([
      ['kafka', 20, 'committed', undefined],
      ['redis', 20, 'conflict', 'stale'],
    ]);
    expect(changes).toBe(3);
    unsubscribe();
    commit('redis', 30, 'committed');
    expect(changes).toBe(3);
  });
});
