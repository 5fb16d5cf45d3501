/**
 * A record as one line of text for `print` and `saveAsTextFiles`: strings as they are, anything
 * else as JSON, falling back to `String` for what JSON cannot render (bigint, undefined, cycles).
 */
export function formatRecord(record: unknown): string {
  if (typeof record === 'string') return record;
  try {
    return JSON.stringify(record) ?? String(record);
  } catch {
    return String(record);
  }
}
