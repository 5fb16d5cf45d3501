import { spawnSync } from 'node:child_process';
import path from 'node:path';

// Runs the example as a user would (compiled, against the real broker and PostgreSQL) and checks
// it resumed and added every payment once.
describe('examples/postgres-exactly-once', () => {
  it('adds every payment once to the balances across a stop and a restart from the offsets in PostgreSQL', () => {
    const main = path.resolve(__dirname, '../dist/main.js');
    const result = spawnSync('node', [main, '--records', '2000'], { encoding: 'utf8', timeout: 100_000, env: process.env });
    const output = `${result.stdout}\n${result.stderr}`;

    expect({ status: result.status, output }).toEqual({ status: 0, output: expect.any(String) });
    // The first context stopped midway, so the second one really resumed from stored offsets.
    const firstStop = Number(/first context stopped after (\d+) records/.exec(output)?.[1]);
    expect(firstStop).toBeGreaterThanOrEqual(1000);
    expect(firstStop).toBeLessThan(2000);
    expect(output).toContain('every one of 2000 payments added exactly once across a stop and restart');
  });
});
