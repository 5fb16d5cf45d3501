import { spawnSync } from 'node:child_process';
import path from 'node:path';

// Runs the demo exactly as `npm run demo` does (compiled, against the real broker) with a smaller
// record count, and checks it resumed where it stopped and counted every record once.
describe('examples/wordcount', () => {
  it('counts every record once across a graceful stop and a restart from the checkpoint', () => {
    const main = path.resolve(__dirname, '../dist/main.js');
    const result = spawnSync('node', [main, '--records', '3000', '--rate', '1500'], {
      encoding: 'utf8',
      timeout: 100_000,
      env: process.env,
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect({ status: result.status, output }).toEqual({ status: 0, output: expect.any(String) });
    expect(output).toContain('exactly where the first context stopped');
    expect(output).toContain('every one of 3000 records counted exactly once');
    expect(output).toMatch(/\[first context\] batch .* records/);
  });
});
