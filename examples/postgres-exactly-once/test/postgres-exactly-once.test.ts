import path from 'node:path';
import { runExample } from '@dstream/example-support';

// Runs the example as a user would (compiled, against the real broker and PostgreSQL) and checks
// it resumed and added every payment once.
describe('examples/postgres-exactly-once', () => {
  it('adds every payment once to the balances across a stop and a restart from the offsets in PostgreSQL', () => {
    const { status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--records', '2000']);

    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    // The first context stopped midway, so the second one really resumed from stored offsets.
    const firstStop = Number(/first context stopped after (\d+) records/.exec(output)?.[1]);
    expect(firstStop).toBeGreaterThanOrEqual(1000);
    expect(firstStop).toBeLessThan(2000);
    // Payments 13, 410, 807, 1204, 1601 and 1998 are malformed: set aside, each once, and the job went on.
    expect(output).toContain('6 malformed payments set aside as dead letters, each once');
    expect(output).toContain('every one of 1994 well-formed payments added exactly once across a stop and restart');
  });
});
