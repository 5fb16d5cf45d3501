import type { Logger } from '../util/Logger';
import type { StreamingListener } from './events';

/**
 * Logs every finished batch with its time, offset ranges, record count and delays as fields:
 * at debug level when it completed, at error level when it failed (its offsets were not committed).
 */
export function batchLogListener(logger: Logger): StreamingListener {
  return {
    onBatchCompleted: ({ info }) => {
      const fields = {
        batchTimeMs: info.batchTimeMs,
        offsetRanges: info.offsetRanges,
        numRecords: info.numRecords,
        schedulingDelayMs: info.schedulingDelayMs,
        processingDelayMs: info.processingDelayMs,
        totalDelayMs: info.totalDelayMs,
      };
      if (info.failure === undefined) logger.debug(`batch ${info.batchTimeMs} completed`, fields);
      else logger.error(`batch ${info.batchTimeMs} failed; its offsets were not committed`, { ...fields, failure: info.failure.message });
    },
  };
}
