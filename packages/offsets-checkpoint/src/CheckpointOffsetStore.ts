import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  checkExpectedOffsets,
  ConfigError,
  driverError,
  OffsetStoreError,
  printable,
  StoreClient,
  topicPartitionKey,
} from '@dstream/core';
import type { LoadedState, OffsetCommit, OffsetStore, StateWrite, StoredOffsets, TopicPartition } from '@dstream/core';
import {
  applyState,
  type CheckpointFile,
  type CheckpointOperatorState,
  FORMAT,
  nest,
  parseCheckpointFile,
  readNoFollow,
  type StateSection,
  syncDirectory,
  VERSION,
  writeDurably,
} from './checkpointFile';

/** Options of `CheckpointOffsetStore`. */
export interface CheckpointOffsetStoreOptions {
  /** Directory holding the checkpoints (one subdirectory per group). Created on `connect()`. */
  readonly directory: string;
  /** How many checkpoints each group keeps, newest first: the newest is current, the rest are history. Default 10. */
  readonly retain?: number;
  /**
   * Permissions of the checkpoint files, whatever the process umask. Default 0o600 (owner only):
   * checkpoints hold group ids, topic names and offsets, no credentials, but nothing else needs them.
   */
  readonly fileMode?: number;
  /** Permissions of the directories the store creates (not of an existing `directory`). Default 0o700. */
  readonly dirMode?: number;
}

/** The newest checkpoint of a group: its sequence number and offsets by `topic:partition`. */
interface Current {
  readonly sequence: number;
  readonly offsets: ReadonlyMap<string, number>;
  readonly state: StateSection;
}

const STORE = 'checkpoint';
const DEFAULT_RETAIN = 10;
const DEFAULT_FILE_MODE = 0o600;
const DEFAULT_DIR_MODE = 0o700;
/** `offsets-<sequence>.json`, the sequence zero-padded so that names sort like numbers. */
const CHECKPOINT = /^offsets-(\d{16})\.json$/;
/** Temp files are written beside the checkpoints (a rename or link never crosses file systems). */
const TEMP = /^\.offsets-.*\.tmp$/;
/** A temp file this old was left by a writer killed mid-write: no write takes an hour. */
const ABANDONED_TEMP_MS = 60 * 60 * 1000;
/** Lost races are retried while the partitions being committed still hold their expected offsets. */
const MAX_WRITE_ATTEMPTS = 20;
/** File system errors that may clear up by themselves. */
const RETRIABLE_CODES = new Set(['EAGAIN', 'EBUSY', 'EIO', 'EMFILE', 'ENFILE', 'ESTALE', 'ETIMEDOUT', 'EINTR']);

/**
 * An `OffsetStore` in checkpoint files on a local or mounted file system: each commit writes a
 * new, complete checkpoint of the group's offsets as versioned JSON (`offsets-<sequence>.json` in
 * the group's subdirectory), and the newest is current. A checkpoint is written to a temp file,
 * fsynced, then published by hard-linking it to the next sequence number and fsyncing the
 * directory; the link fails if that number exists, which makes the commit compare-and-set across
 * processes with no lock to go stale: of two writers that read the same checkpoint, one publishes
 * and the other re-reads and either retries or finds its offsets stale. The newest `retain`
 * checkpoints are kept as history. A commit that changes no offset (a batch that read nothing)
 * passes the compare-and-set and writes no file. No transactions: a file cannot carry a job's output.
 *
 * Operator state (`supportsState`) is part of the same checkpoint (its `state` section), so the
 * one publishing link makes offsets and state current together: no crash can leave one without
 * the other. The price is that every commit writes the group's whole state, not only the
 * batch's changes; keep it for state of modest size (thousands of keys), and use Redis or
 * PostgreSQL beyond that.
 *
 * @example
 * const store = new CheckpointOffsetStore({ directory: '/var/lib/wordcount/offsets' });
 * await store.connect();
 * await store.commit('wordcount', commitsFromRanges(batch.offsetRanges));
 */
export class CheckpointOffsetStore implements OffsetStore {
  readonly name = STORE;
  readonly supportsTransactions = false;
  readonly supportsState = true;
  private readonly directory: string;
  private readonly retain: number;
  private readonly fileMode: number;
  private readonly dirMode: number;
  /** Every operation opens and closes its own files: the life cycle is what every store has. */
  private readonly lifecycle: StoreClient<void>;

  constructor(options: CheckpointOffsetStoreOptions) {
    const directory: unknown = options?.directory;
    if (typeof directory !== 'string' || directory === '' || directory.includes('\0')) {
      throw new ConfigError('directory', directory, 'must be a non-empty path', 'Pass the directory to keep checkpoints in.');
    }
    const retain: unknown = options.retain ?? DEFAULT_RETAIN;
    if (typeof retain !== 'number' || !Number.isSafeInteger(retain) || retain < 1) {
      throw new ConfigError('retain', retain, 'must be an integer >= 1', 'Pass how many checkpoints to keep, e.g. 10.');
    }
    this.directory = directory;
    this.retain = retain;
    this.fileMode = checkMode('fileMode', options.fileMode ?? DEFAULT_FILE_MODE);
    this.dirMode = checkMode('dirMode', options.dirMode ?? DEFAULT_DIR_MODE);
    this.lifecycle = new StoreClient<void>({
      store: STORE,
      address: directory,
      acquire: () => this.prepareDirectory(),
      release: async () => undefined,
      wrap: (what, error) => this.wrap(error, what),
    });
  }

  /**
   * Creates the directory if needed (with `dirMode`) and checks that it is writable. A path that
   * is a file, lies under a file, or cannot be written fails with an `OffsetStoreError` naming the
   * path and the fix.
   */
  connect(): Promise<void> {
    return this.lifecycle.connect();
  }

  /** Nothing to release: every operation opens and closes its own files. Idempotent. */
  close(): Promise<void> {
    return this.lifecycle.close();
  }

  private async prepareDirectory(): Promise<void> {
    try {
      await this.makeDirectories(this.directory);
      await fs.access(this.directory, fs.constants.W_OK);
    } catch (error) {
      throw await this.directoryError(error);
    }
  }

  /** Why `directory` cannot hold checkpoints, in words that name the path to fix and how. */
  private async directoryError(error: unknown): Promise<OffsetStoreError> {
    const code = codeOf(error);
    const doing = `preparing checkpoint directory ${this.directory}`;
    const fail = (problem: string) =>
      new OffsetStoreError(STORE, `${doing} failed: ${problem}`, { retriable: false, cause: driverError(error) });
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      const file = await firstNonDirectory(this.directory);
      if (file !== undefined) {
        return fail(
          `${file === resolve(this.directory) ? 'it' : file} is a file, not a directory (${code}). ` +
            `Pass a directory as the store's directory option, or move the file away`,
        );
      }
    }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      const uid = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
      return fail(
        `${code === 'EROFS' ? 'it is on a read-only file system' : `this process${uid} may not write there`} (${code}). ` +
          `Make the directory writable by the user the job runs as (chown/chmod, or a writable mount), or pass another directory`,
      );
    }
    return this.wrap(error, doing);
  }

  load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    return this.lifecycle.use(async () => {
      const { offsets } = await this.current(group);
      const loaded = new Map<string, number>();
      for (const { topic, partition } of partitions) {
        const key = topicPartitionKey(topic, partition);
        const offset = offsets.get(key);
        if (offset !== undefined) loaded.set(key, offset);
      }
      return loaded;
    });
  }

  /** The state of `operator` in the group's current checkpoint. */
  loadState(group: string, operator: string): Promise<LoadedState | undefined> {
    return this.lifecycle.use(async () => {
      const { state } = await this.current(group);
      return Object.prototype.hasOwnProperty.call(state, operator) ? state[operator] : undefined;
    });
  }

  /** The state names in the group's current checkpoint. */
  listState(group: string): Promise<string[]> {
    return this.lifecycle.use(async () => {
      return Object.keys((await this.current(group)).state).sort();
    });
  }

  /** Publishes a checkpoint without the state of `operator` (a state name, see `listState`). */
  deleteState(group: string, operator: string): Promise<void> {
    return this.lifecycle.use(async () => {
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt += 1) {
        const current = await this.current(group);
        if (!Object.prototype.hasOwnProperty.call(current.state, operator)) return;
        const rest: { [operator: string]: CheckpointOperatorState } = { ...current.state };
        delete rest[operator];
        if (await this.publish(group, current.sequence + 1, current.offsets, rest)) return;
      }
      throw new OffsetStoreError(STORE, `deleting the state of ${printable(operator)} in group ${printable(group)} lost the race for the next checkpoint`, {
        retriable: true,
      });
    });
  }

  /** Publishes a new checkpoint with the offsets (compare-and-set) and the state changes applied. */
  commit(group: string, commits: readonly OffsetCommit[], state?: StateWrite): Promise<void> {
    return this.lifecycle.use(async () => {
      if (commits.length === 0 && (state === undefined || state.length === 0)) return;
      const dir = this.groupDirectory(group);
      await this.mkdir(dir);
      for (let attempt = 1; ; attempt += 1) {
        const current = await this.current(group);
        checkExpectedOffsets(STORE, group, commits, current.offsets);
        const offsets = new Map(current.offsets);
        for (const { range } of commits) offsets.set(range.key, range.untilOffset);
        // A batch that read nothing and changed no state commits what is already stored: no new
        // checkpoint, so an idle job does not write (and fsync) a file every batch interval or push
        // history out.
        const hasStateChanges = state !== undefined && state.some((w) => w.upserts.length > 0 || w.removals.length > 0);
        if (!hasStateChanges && commits.every(({ range }) => current.offsets.get(range.key) === range.untilOffset)) return;
        if (await this.publish(group, current.sequence + 1, offsets, applyState(current.state, state))) break;
        if (attempt >= MAX_WRITE_ATTEMPTS) {
          throw new OffsetStoreError(
            STORE,
            `commit for group ${printable(group)} lost the race for the next checkpoint ${MAX_WRITE_ATTEMPTS} times in a row; ` +
              `other processes commit for this group in ${dir} without touching these partitions`,
            { retriable: true },
          );
        }
      }
      await this.prune(dir);
    });
  }

  /** The directory of a group's checkpoints: its id, percent-encoded so that any id is one safe name. */
  private groupDirectory(group: string): string {
    if (typeof group !== 'string' || group === '') {
      throw new ConfigError('group', group, 'must be a non-empty string', 'Pass the consumer group id.');
    }
    return join(this.directory, encodeURIComponent(group).replace(/^\./, '%2E'));
  }

  /** The newest checkpoint of `group` (sequence 0 and no offsets when there is none). */
  private async current(group: string): Promise<Current> {
    const dir = this.groupDirectory(group);
    for (;;) {
      const sequences = await this.sequences(dir);
      const newest = sequences[sequences.length - 1];
      if (newest === undefined) return { sequence: 0, offsets: new Map(), state: {} };
      const path = join(dir, checkpointName(newest));
      let text: string;
      try {
        text = await readNoFollow(path);
      } catch (error) {
        // Pruned by another writer after we listed the directory: a newer checkpoint exists.
        if (codeOf(error) === 'ENOENT') continue;
        if (codeOf(error) === 'ELOOP') throw symlinkError(path);
        throw this.wrap(error, `reading checkpoint ${path}`);
      }
      return { sequence: newest, ...parseCheckpointFile(path, group, text) };
    }
  }

  /** Sequence numbers of the checkpoints in `dir`, ascending. */
  private async sequences(dir: string): Promise<number[]> {
    let names: string[];
    try {
      // A group directory that is a link would take reads and writes outside the checkpoint directory.
      if ((await fs.lstat(dir)).isSymbolicLink()) throw symlinkError(dir);
      names = await fs.readdir(dir);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return [];
      throw this.wrap(error, `listing checkpoints in ${dir}`);
    }
    return names
      .map((name) => CHECKPOINT.exec(name))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => Number(match[1]))
      .sort((a, b) => a - b);
  }

  /**
   * Publishes `offsets` as checkpoint `sequence`. False when another writer published that
   * sequence first (or a newer one while this writer was slow): the caller re-reads and decides.
   */
  private async publish(group: string, sequence: number, offsets: ReadonlyMap<string, number>, state: StateSection): Promise<boolean> {
    const dir = this.groupDirectory(group);
    const path = join(dir, checkpointName(sequence));
    const temp = join(dir, `.offsets-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    const checkpoint: CheckpointFile = {
      format: FORMAT,
      version: VERSION,
      group,
      savedAt: new Date().toISOString(),
      offsets: nest(offsets),
      ...(Object.keys(state).length > 0 ? { state } : {}),
    };
    try {
      await writeDurably(temp, `${JSON.stringify(checkpoint, null, 2)}\n`, this.fileMode);
      try {
        // link, unlike rename, refuses to replace an existing name: the compare-and-set.
        await fs.link(temp, path);
      } catch (error) {
        if (codeOf(error) === 'EEXIST') return false;
        throw error;
      }
      await syncDirectory(dir);
    } catch (error) {
      throw this.wrap(error, `writing checkpoint ${path}`);
    } finally {
      await fs.rm(temp, { force: true }).catch(() => undefined);
    }
    // Pruning may have deleted `sequence` after a slow writer read an older checkpoint, letting
    // the link above succeed behind the newest one. The newest checkpoint is never pruned, so
    // seeing one beyond ours means ours is not current: withdraw it and let the caller re-read.
    const sequences = await this.sequences(dir);
    if (sequences[sequences.length - 1] !== sequence) {
      await fs.rm(path, { force: true }).catch(() => undefined);
      return false;
    }
    return true;
  }

  /** Deletes checkpoints beyond the newest `retain`, and temp files of writers killed mid-write. */
  private async prune(dir: string): Promise<void> {
    const sequences = await this.sequences(dir);
    const old = sequences.slice(0, Math.max(sequences.length - this.retain, 0)).map(checkpointName);
    const now = Date.now();
    let abandoned: string[] = [];
    try {
      const temps = (await fs.readdir(dir)).filter((name) => TEMP.test(name));
      const stats = await Promise.all(temps.map((name) => fs.stat(join(dir, name)).catch(() => undefined)));
      abandoned = temps.filter((_, i) => {
        const stat = stats[i];
        return stat !== undefined && now - stat.mtimeMs > ABANDONED_TEMP_MS;
      });
    } catch (error) {
      throw this.wrap(error, `listing ${dir}`);
    }
    // Another writer may be pruning the same files: a file already gone is fine.
    await Promise.all([...old, ...abandoned].map((name) => fs.rm(join(dir, name), { force: true }))).catch((error) => {
      throw this.wrap(error, `deleting old checkpoints in ${dir}`);
    });
  }

  private async mkdir(dir: string): Promise<void> {
    try {
      await this.makeDirectories(dir);
      if ((await fs.lstat(dir)).isSymbolicLink()) throw symlinkError(dir);
    } catch (error) {
      throw this.wrap(error, `creating ${dir}`);
    }
  }

  /** `mkdir -p`, giving each directory it creates `dirMode` whatever the umask. */
  private async makeDirectories(dir: string): Promise<void> {
    const created = await fs.mkdir(dir, { recursive: true, mode: this.dirMode });
    if (created === undefined) return;
    const first = resolve(created);
    // Every directory from `dir` up to the first one mkdir created is new.
    for (let path = resolve(dir); ; path = dirname(path)) {
      await fs.chmod(path, this.dirMode);
      if (path === first || dirname(path) === path) break;
    }
  }

  private wrap(error: unknown, doing: string): OffsetStoreError {
    if (error instanceof OffsetStoreError) return error;
    const code = codeOf(error);
    return new OffsetStoreError(STORE, `${doing} failed: ${error instanceof Error ? error.message : String(error)}`, {
      retriable: code !== undefined && RETRIABLE_CODES.has(code),
      cause: driverError(error),
    });
  }
}

function checkpointName(sequence: number): string {
  return `offsets-${String(sequence).padStart(16, '0')}.json`;
}

function symlinkError(path: string): OffsetStoreError {
  return new OffsetStoreError(
    STORE,
    `${path} is a symbolic link; the store follows no link inside its directory (a link could make it read or ` +
      `overwrite a file elsewhere). Replace the link with the file or directory it points to`,
  );
}

function checkMode(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0o777) {
    throw new ConfigError(option, value, 'must be a permission mode between 0o000 and 0o777', 'Pass e.g. 0o600, or omit it.');
  }
  return value;
}

/** The first path from the root down to `path` that exists and is not a directory, if any. */
async function firstNonDirectory(path: string): Promise<string | undefined> {
  const parts: string[] = [];
  for (let at = resolve(path); ; at = dirname(at)) {
    parts.unshift(at);
    if (dirname(at) === at) break;
  }
  for (const at of parts) {
    const stat = await fs.stat(at).catch(() => undefined);
    if (stat === undefined) return undefined;
    if (!stat.isDirectory()) return at;
  }
  return undefined;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
