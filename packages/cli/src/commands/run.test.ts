import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { ExitCode } from '../exitCodes';
import { main } from '../program';

async function run(...argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(argv, {
    out: { write: () => undefined },
    err: { isTTY: false, write: (text: string) => (err += text) },
    in: new PassThrough(),
  });
  return { code, err };
}

describe('dstream run', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dstream-run-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the job file in N workers, each with its DSTREAM_WORKER_ID and the job arguments, and exits 0 when all stop cleanly', async () => {
    const job = path.join(dir, 'job.js');
    // A job that records who ran it and finishes: a worker that exits 0 is done, not restarted.
    writeFileSync(
      job,
      `require('node:fs').appendFileSync(${JSON.stringify(path.join(dir, 'ran'))}, process.env.DSTREAM_WORKER_ID + ' ' + process.argv.slice(2).join(',') + '\\n');`,
    );
    const result = await run('run', '--workers', '3', job, '--', 'a', 'b');
    expect(result.code).toBe(ExitCode.OK);
    expect(readFileSync(path.join(dir, 'ran'), 'utf8').trim().split('\n').sort()).toEqual(['0 a,b', '1 a,b', '2 a,b']);
    expect(result.err).toContain('dstream run: 3 workers of');
    expect(result.err).toContain('all workers stopped');
  }, 30_000);

  it('refuses a job file that does not exist and a worker count that is not a positive integer, before starting anything', async () => {
    const missing = await run('run', path.join(dir, 'nope.js'));
    expect(missing.code).toBe(ExitCode.USAGE);
    expect(missing.err).toContain('<job> must be a job file that exists');
    const job = path.join(dir, 'job.js');
    writeFileSync(job, '');
    const zero = await run('run', '--workers', '0', job);
    expect(zero.code).toBe(ExitCode.USAGE);
    expect(zero.err).toContain('--workers must be a positive integer; got "0"');
  });
});
