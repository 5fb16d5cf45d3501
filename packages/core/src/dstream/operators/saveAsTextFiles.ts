import { ConfigError, DStreamError } from '../../errors';
import { defineOperator, DStream } from '../graph';
import { formatRecord } from '../formatRecord';
import { registerOutput } from '../registerOutput';
import { writeFileAtomic } from '../writeFileAtomic';

/** File-system error codes that say "try again later" rather than "this cannot work". */
const TRANSIENT_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR']);

/** The file batch `time` is written to: Spark's `rddToFileName`. */
export function textFileName(prefix: string, suffix: string | undefined, time: number): string {
  return suffix ? `${prefix}-${time}.${suffix}` : `${prefix}-${time}`;
}

/** `source.saveAsTextFiles(prefix, suffix)`: one file per batch, one record per line, written atomically. */
export function saveAsTextFiles<T>(source: DStream<T>, prefix: string, suffix?: string): void {
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new ConfigError(
      'saveAsTextFiles(prefix)',
      prefix,
      'must be a non-empty string',
      'Pass a path prefix such as "out/words"; batch files are named <prefix>-<time>[.<suffix>].',
    );
  }
  if (suffix !== undefined && typeof suffix !== 'string') {
    throw new ConfigError('saveAsTextFiles(suffix)', suffix, 'must be a string or undefined', 'Pass a file extension such as "txt", or nothing.');
  }
  registerOutput(source, 'saveAsTextFiles', async (records, { time }) => {
    const path = textFileName(prefix, suffix, time);
    let text = '';
    for (const record of records) text += `${formatRecord(record)}\n`;
    try {
      await writeFileAtomic(path, text);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException | undefined)?.code;
      throw new DStreamError(`saveAsTextFiles could not write ${path} (batch ${time}): ${(cause as Error).message}`, {
        cause,
        retriable: code !== undefined && TRANSIENT_CODES.has(code),
      });
    }
  });
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Writes every batch to the file `<prefix>-<time>` (plus `.<suffix>` when given), one record per
     * line (strings as they are, anything else as JSON), creating the directory if needed. Each
     * file is written atomically (temporary file in the same directory, fsync, rename): a reader
     * never sees a partial file. Files are named by batch time, as Spark names them, and batch times
     * are not kept across restarts: under at-least-once, records of a batch that was in flight at a
     * crash reappear in a file with a later time. Key files by offset range in `foreachBatch` when
     * each record must land once. A string record containing a newline spans several lines.
     *
     * @example
     * counts.saveAsTextFiles('out/counts', 'txt'); // out/counts-1700000000000.txt, …
     */
    saveAsTextFiles(prefix: string, suffix?: string): void;
  }
}

defineOperator('saveAsTextFiles', saveAsTextFiles);
