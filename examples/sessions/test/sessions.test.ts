import path from 'node:path';
import { runExample } from '@dstream/example-support';

// Runs the example as a user would (compiled, against the real broker and PostgreSQL) and checks
// that sessions open at the stop were restored and every click ended up in one session.
describe('examples/sessions', () => {
  it('ends every session once, continuing the sessions open at a stop from the state in PostgreSQL', () => {
    const { status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--clicks', '600', '--idle-ms', '3000']);

    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    // Sessions were open when the first context stopped, so the second one really restored them.
    const open = Number(/with (\d+) open sessions stored/.exec(output)?.[1]);
    expect(open).toBeGreaterThan(0);
    expect(output).toContain('every one of 600 clicks counted in exactly one ended session across a stop and restart');
  });
});
