import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runExample } from '@dstream/example-support';
import type { CheckpointFile } from '@dstream/offsets-checkpoint';

// Runs the example as a user would (compiled, against the real broker, checkpoints in a temp
// directory) and checks it resumed from the checkpoint and added every order once.
describe('examples/checkpoint-offsets', () => {
  let directory: string;
  let status: number | null;
  let output: string;

  beforeAll(() => {
    directory = mkdtempSync(path.join(tmpdir(), 'checkpoint-offsets-test-'));
    ({ status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--records', '2000', '--directory', directory]));
  });

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('adds every order once across a graceful stop and a restart from the newest checkpoint', () => {
    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    // The first context stopped midway, so the second one really resumed from stored offsets.
    const firstStop = Number(/first context stopped after (\d+) records/.exec(output)?.[1]);
    expect(firstStop).toBeGreaterThanOrEqual(1000);
    expect(firstStop).toBeLessThan(2000);
    expect(output).toContain('exactly the checkpointed offsets');
    expect(output).toContain('every one of 2000 orders added exactly once across a graceful stop and a restart from the checkpoint');
  });

  it('leaves versioned JSON checkpoints whose newest holds the offsets of every record', () => {
    const [group] = readdirSync(directory);
    const files = readdirSync(path.join(directory, group)).filter((name) => /^offsets-\d{16}\.json$/.test(name)).sort();
    expect(files.length).toBeGreaterThan(1);

    const newest = JSON.parse(readFileSync(path.join(directory, group, files[files.length - 1]), 'utf8')) as CheckpointFile;
    expect(newest).toMatchObject({ format: 'dstream-offsets', version: 1, group });
    const offsets = Object.values(newest.offsets).flatMap((partitions) => Object.values(partitions));
    expect(offsets).toHaveLength(3);
    expect(offsets.reduce((sum, offset) => sum + offset, 0)).toBe(2000);
  });
});
