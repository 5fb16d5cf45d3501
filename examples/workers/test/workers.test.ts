import path from 'node:path';
import { runExample } from '@dstream/example-support';

// Runs the example as a user would (compiled, real processes, the real broker and Redis).
describe('examples/workers', () => {
  it('counts every word once with two workers of one group, one of them killed and restarted', () => {
    const { status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--records', '8000']);

    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    expect(output).toContain('workers stopped: exit code 0, 1 restart(s)');
    expect(output).toContain('every word of 8000 sentences counted exactly once by 2 workers, one of them killed and restarted');
  });
});
