import path from 'node:path';
import { runExample } from '@dstream/example-support';
import { describeGroup } from '@dstream/test-utils';

// Runs the example as a user would (compiled, against the real broker), then asks Kafka's own
// tool where the group stands.
describe('examples/kafka-offsets', () => {
  it('counts every word once across a graceful stop and a restart from the group offsets, leaving lag 0', async () => {
    const { status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--records', '2000']);

    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    // The first context stopped midway, so the second one really resumed from the group's offsets.
    const firstStop = Number(/first context stopped after (\d+) records/.exec(output)?.[1]);
    expect(firstStop).toBeGreaterThanOrEqual(1000);
    expect(firstStop).toBeLessThan(2000);
    expect(output).toContain('every word of 2000 sentences counted once across a graceful stop and restart');

    const group = /--describe --group (\S+)/.exec(output)?.[1];
    expect(group).toBeDefined();
    const rows = await describeGroup(group!);
    expect([...rows.keys()].sort()).toEqual([0, 1, 2].map((partition) => `${group}:${partition}`));
    for (const row of rows.values()) expect(row.lag).toBe(0);
    expect([...rows.values()].reduce((sum, row) => sum + (row.offset ?? 0), 0)).toBe(2000);
  }, 180_000);
});
