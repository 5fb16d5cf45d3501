import path from 'node:path';
import { runExample } from '@dstream/example-support';

// Runs the example as a user would (compiled, against the real broker).
describe('examples/kafka-exactly-once', () => {
  it('copies every record exactly once across a batch aborted midway and a restart, and sets malformed ones aside once', () => {
    const { status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--records', '1000']);

    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    expect(output).toMatch(/first run failed as planned: .*refusing to go on after word-750/);
    // The restart began after the last committed transaction, not from the start.
    const before = Number(/second run resumed after (\d+) committed records/.exec(output)?.[1]);
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(1000);
    expect(output).toContain('read with read_committed holds each of the 1000 words exactly once');
    expect(output).toMatch(/dead-letters holds each of the 3 malformed words once: /);
  });
});
