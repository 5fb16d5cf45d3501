import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DStreamError } from '../../errors';
import { runBatches } from '../../testing/runBatches';

describe('saveAsTextFiles', () => {
  let directory: string;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'dstream-save-'));
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('writes one file per batch, one record per line, creating the directory', async () => {
    const prefix = join(directory, 'nested', 'counts');
    await runBatches<unknown, unknown>([['a', 'b'], [], [['x', 1]]], (records) => {
      records.saveAsTextFiles(prefix, 'txt');
      return records;
    });
    expect((await readdir(join(directory, 'nested'))).sort()).toEqual([
      'counts-1000.txt',
      'counts-2000.txt',
      'counts-3000.txt',
    ]);
    expect(await readFile(`${prefix}-1000.txt`, 'utf8')).toBe('a\nb\n');
    expect(await readFile(`${prefix}-2000.txt`, 'utf8')).toBe('');
    expect(await readFile(`${prefix}-3000.txt`, 'utf8')).toBe('["x",1]\n');
  });

  it('names files without an extension when no suffix is given', async () => {
    await runBatches([['a']], (records) => {
      records.saveAsTextFiles(join(directory, 'out'));
      return records;
    });
    expect(await readdir(directory)).toEqual(['out-1000']);
  });

  it('replaces the file of a batch that runs again, leaving no temporary file behind', async () => {
    const prefix = join(directory, 'words');
    await writeFile(`${prefix}-1000`, 'left by a run that crashed\nhalf way\n');
    await runBatches([['first', 'run']], (records) => {
      records.saveAsTextFiles(prefix);
      return records;
    });
    await runBatches([['second']], (records) => {
      records.saveAsTextFiles(prefix);
      return records;
    });
    expect(await readdir(directory)).toEqual(['words-1000']);
    expect(await readFile(`${prefix}-1000`, 'utf8')).toBe('second\n');
  });

  it('fails the batch with a DStreamError naming the file when it cannot be written', async () => {
    await writeFile(join(directory, 'file'), '');
    const prefix = join(directory, 'file', 'out');
    const error = await runBatches([['a']], (records) => {
      records.saveAsTextFiles(prefix);
      return records;
    }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DStreamError);
    expect(error).toMatchObject({ retriable: false });
    // A file in the way makes mkdir fail with EEXIST on Linux; other systems may say ENOTDIR.
    expect((error as Error).cause).toMatchObject({ code: expect.stringMatching(/^(EEXIST|ENOTDIR)$/) });
    expect((error as Error).message).toContain(`saveAsTextFiles could not write ${prefix}-1000 (batch 1000)`);
  });
});
