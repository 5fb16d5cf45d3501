import path from 'node:path';
import { runExample } from '@dstream/example-support';

// Runs the example as a user would (compiled, against the real broker and Redis) and checks it
// resumed and counted every word once.
describe('examples/redis-offsets', () => {
  it('counts every word once in Redis across a stop and a restart from the offsets in Redis', () => {
    const { status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--records', '2000']);

    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    // The first context stopped midway, so the second one really resumed from stored offsets.
    const firstStop = Number(/first context stopped after (\d+) records/.exec(output)?.[1]);
    expect(firstStop).toBeGreaterThanOrEqual(1000);
    expect(firstStop).toBeLessThan(2000);
    expect(output).toContain('every word of 2000 sentences counted exactly once across a stop and restart');
  });
});
