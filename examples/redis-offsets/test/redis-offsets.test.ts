import { spawnSync } from 'node:child_process';
import path from 'node:path';

// Runs the example as a user would (compiled, against the real broker and Redis) and checks it
// resumed and counted every word once.
describe('examples/redis-offsets', () => {
  it('counts every word once in Redis across a stop and a restart from the offsets in Redis', () => {
    const main = path.resolve(__dirname, '../dist/main.js');
    const result = spawnSync('node', [main, '--records', '2000'], { encoding: 'utf8', timeout: 100_000, env: process.env });
    const output = `${result.stdout}\n${result.stderr}`;

    expect({ status: result.status, output }).toEqual({ status: 0, output: expect.any(String) });
    // The first context stopped midway, so the second one really resumed from stored offsets.
    const firstStop = Number(/first context stopped after (\d+) records/.exec(output)?.[1]);
    expect(firstStop).toBeGreaterThanOrEqual(1000);
    expect(firstStop).toBeLessThan(2000);
    expect(output).toContain('every word of 2000 sentences counted exactly once across a stop and restart');
  });
});
