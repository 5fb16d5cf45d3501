import { ConfigError } from '@dstream/core';

/**
 * The file `dstream offsets export` writes and `import` reads (docs/cli.md documents it): a
 * group's stored offsets, the next offset to read per partition, independent of any store.
 *
 * @example
 * {
 *   "format": "dstream-offsets-export",
 *   "version": 1,
 *   "group": "wordcount",
 *   "exportedAt": "2026-12-02T02:10:00.000Z",
 *   "source": "redis://127.0.0.1:6379",
 *   "offsets": [{ "topic": "sentences", "partition": 0, "offset": 2011 }]
 * }
 */
export interface OffsetsExport {
  readonly format: 'dstream-offsets-export';
  readonly version: 1;
  readonly group: string;
  /** When the export was made (ISO 8601). */
  readonly exportedAt: string;
  /** The store it was read from, password removed. Informational. */
  readonly source: string;
  /** Next offset to read, per partition, sorted by topic and partition. */
  readonly offsets: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: number }>;
}

export const EXPORT_FORMAT = 'dstream-offsets-export';
export const EXPORT_VERSION = 1;

/**
 * Reads an export file's text, rejecting anything but a version-1 export with a `ConfigError`
 * that names the file and what is wrong.
 */
export function parseOffsetsExport(file: string, text: string): OffsetsExport {
  const fail = (problem: string): never => {
    throw new ConfigError('<file>', file, problem, 'Pass a file written by `dstream offsets export` (docs/cli.md shows the format).');
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`must hold JSON (${(error as Error).message})`);
  }
  const record = json as Record<string, unknown>;
  if (typeof json !== 'object' || json === null || record.format !== EXPORT_FORMAT) {
    fail(`must be a dstream offsets export (with "format": "${EXPORT_FORMAT}")`);
  }
  if (record.version !== EXPORT_VERSION) {
    fail(
      `has version ${JSON.stringify(record.version)}, and this dstream reads version ${EXPORT_VERSION}` +
        (typeof record.version === 'number' && record.version > EXPORT_VERSION ? '; upgrade @dstream/cli' : ''),
    );
  }
  if (typeof record.group !== 'string' || record.group === '') fail('must name its "group"');
  if (!Array.isArray(record.offsets)) fail('must hold an "offsets" array');
  const seen = new Set<string>();
  for (const [index, entry] of (record.offsets as unknown[]).entries()) {
    const { topic, partition, offset } = (entry ?? {}) as Record<string, unknown>;
    const isValid =
      typeof topic === 'string' &&
      topic !== '' &&
      Number.isSafeInteger(partition) &&
      (partition as number) >= 0 &&
      Number.isSafeInteger(offset) &&
      (offset as number) >= 0;
    if (!isValid) fail(`has an invalid entry offsets[${index}]: ${JSON.stringify(entry)} (need topic, partition, offset >= 0)`);
    const key = `${topic}:${partition}`;
    if (seen.has(key)) fail(`lists ${topic}-${partition} twice`);
    seen.add(key);
  }
  return json as OffsetsExport;
}
