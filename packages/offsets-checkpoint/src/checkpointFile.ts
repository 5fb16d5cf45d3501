/**
 * The checkpoint file format of `CheckpointOffsetStore` (version 1, plain JSON with no trace of
 * the job's code), how it is read and checked, and the durable file writes that publish it.
 */
import { constants, promises as fs } from 'node:fs';
import { encodeStateKey, OffsetStoreError, topicPartitionKey } from '@dstream/core';
import type { StateWrite } from '@dstream/core';

const STORE = 'checkpoint';
export const FORMAT = 'dstream-offsets';
export const VERSION = 1;

/**
 * One checkpoint file: every stored offset of a group after one commit. Plain JSON with no trace
 * of the job's code, so a new version of the job reads what the old one wrote.
 */
export interface CheckpointFile {
  readonly format: 'dstream-offsets';
  readonly version: 1;
  readonly group: string;
  /** The batch whose commit wrote the checkpoint, when the committer knows it. */
  readonly batchTimeMs?: number;
  /** When the checkpoint was written (ISO 8601). */
  readonly savedAt: string;
  /** Next offset to read, by topic and partition. */
  readonly offsets: { readonly [topic: string]: { readonly [partition: string]: number } };
  /**
   * The whole state of the group's stateful operators after the commit, by operator name (absent
   * when the job keeps none). Each entry is a `[key, value]` pair as the operator stores it.
   */
  readonly state?: { readonly [operator: string]: CheckpointOperatorState };
}

/** One operator's state in a checkpoint. */
export interface CheckpointOperatorState {
  readonly kind: string;
  readonly stateVersion: number;
  readonly entries: readonly (readonly [unknown, unknown])[];
}

export type StateSection = { readonly [operator: string]: CheckpointOperatorState };

/**
 * Reads a checkpoint file's text into offsets by `topic:partition`, rejecting anything that is
 * not a version-1 dstream checkpoint of `group` with an `OffsetStoreError` naming the file and the fix.
 */
export function parseCheckpoint(path: string, group: string, text: string): Map<string, number> {
  return parseCheckpointFile(path, group, text).offsets;
}

/** Offsets and state section of a checkpoint file's text (see `parseCheckpoint`). */
export function parseCheckpointFile(path: string, group: string, text: string): { offsets: Map<string, number>; state: StateSection } {
  const fail = (problem: string, fix: string): never => {
    throw new OffsetStoreError(STORE, `checkpoint ${path} ${problem}. ${fix}`);
  };
  const restore = `Restore it from a backup, or move it out of the directory to resume from the checkpoint before it`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // Not the parser's message: it quotes the start of the file, which need not be a checkpoint.
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : '');
    fail(`is not valid JSON${position === null ? '' : ` (at character ${position[1]})`}`, restore);
  }
  if (!isRecord(json) || json.format !== FORMAT) {
    fail(`is not a dstream offsets checkpoint (no "format": "${FORMAT}")`, restore);
  }
  const checkpoint = json as Record<string, unknown>;
  if (checkpoint.version !== VERSION) {
    fail(
      `has version ${JSON.stringify(checkpoint.version)}; this dstream reads version ${VERSION}`,
      typeof checkpoint.version === 'number' && checkpoint.version > VERSION
        ? 'It was written by a newer dstream: upgrade @dstream/offsets-checkpoint'
        : restore,
    );
  }
  if (checkpoint.group !== group) {
    fail(`belongs to group ${JSON.stringify(checkpoint.group)}, not ${JSON.stringify(group)}`, restore);
  }
  const offsets = new Map<string, number>();
  if (!isRecord(checkpoint.offsets)) fail('has no "offsets" object', restore);
  for (const [topic, partitions] of Object.entries(checkpoint.offsets as Record<string, unknown>)) {
    if (!isRecord(partitions)) fail(`has offsets for topic ${JSON.stringify(topic)} that are not an object`, restore);
    for (const [partition, offset] of Object.entries(partitions as Record<string, unknown>)) {
      if (!/^\d+$/.test(partition) || typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
        fail(
          `holds ${JSON.stringify(offset)} for ${topic} partition ${JSON.stringify(partition)}, which is not an offset`,
          restore,
        );
      }
      offsets.set(topicPartitionKey(topic, Number(partition)), offset as number);
    }
  }
  const state = checkpoint.state ?? {};
  if (!isRecord(state)) fail('has a "state" that is not an object', restore);
  for (const [operator, section] of Object.entries(state as Record<string, unknown>)) {
    if (
      !isRecord(section) ||
      typeof section.kind !== 'string' ||
      typeof section.stateVersion !== 'number' ||
      !Array.isArray(section.entries) ||
      !section.entries.every((entry) => Array.isArray(entry) && entry.length === 2)
    ) {
      fail(`has state for operator ${JSON.stringify(operator)} that is not { kind, stateVersion, entries: [[key, value], …] }`, restore);
    }
  }
  return { offsets, state: state as StateSection };
}

/** `state` with a batch's changes applied: upserted and removed keys matched by their JSON. */
export function applyState(state: StateSection, write: StateWrite | undefined): StateSection {
  if (write === undefined || write.length === 0) return state;
  const next: { [operator: string]: CheckpointOperatorState } = { ...state };
  for (const { operator, kind, stateVersion, upserts, removals } of write) {
    const entries = new Map<string, readonly [unknown, unknown]>();
    for (const entry of Object.prototype.hasOwnProperty.call(state, operator) ? state[operator].entries : []) {
      entries.set(encodeStateKey(operator, entry[0]), entry);
    }
    for (const [key, value] of upserts) entries.set(encodeStateKey(operator, key), [key, value]);
    for (const key of removals) entries.delete(encodeStateKey(operator, key));
    next[operator] = { kind, stateVersion, entries: [...entries.values()] };
  }
  return next;
}

/** Offsets by `topic:partition` as the checkpoint's `{ topic: { partition: offset } }`. */
export function nest(offsets: ReadonlyMap<string, number>): { [topic: string]: { [partition: string]: number } } {
  const nested: { [topic: string]: { [partition: string]: number } } = {};
  for (const [key, offset] of offsets) {
    // Topic names may contain ':' in no Kafka version, but split at the last one to be safe.
    const colon = key.lastIndexOf(':');
    const topic = key.slice(0, colon);
    (nested[topic] ??= {})[key.slice(colon + 1)] = offset;
  }
  return nested;
}

/**
 * Writes `text` to a new file with `mode` and fsyncs it, so that the link publishing it never
 * exposes a torn file. `wx` (O_CREAT|O_EXCL) never follows a link planted at `path`.
 */
export async function writeDurably(path: string, text: string, mode: number): Promise<void> {
  const file = await fs.open(path, 'wx', mode);
  try {
    // open's mode is filtered by the umask; the option promises the mode itself.
    await file.chmod(mode);
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Fsyncs a directory so that a new name in it survives a power loss, not only a process crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads a file, refusing (ELOOP) when the name is a symbolic link. */
export async function readNoFollow(path: string): Promise<string> {
  const file = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
