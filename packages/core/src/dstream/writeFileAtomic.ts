import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `data` to `path` so that readers, and a process restarted after a crash, see either the
 * previous file or the whole new one, never a part: write a temporary file in the same directory,
 * fsync it, rename it over `path`, then fsync the directory so the rename itself is durable.
 * Creates the directory if needed. Rejects with the file system's error.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  // Same directory, so the rename never crosses file systems and stays atomic.
  const temporary = join(directory, `.${basename(path)}.${randomUUID()}.tmp`);
  try {
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(data, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  // Windows cannot open a directory to fsync it; there, NTFS journals the rename itself.
  if (process.platform !== 'win32') {
    const dir = await open(directory, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
