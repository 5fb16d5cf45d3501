import path from 'node:path';
import { hbaseRestFromEnv, runExample } from '@dstream/example-support';

/** One cell read with a plain REST GET, as `hbase shell` would show it. */
async function cell(table: string, row: string, column: string): Promise<string> {
  const response = await fetch(`${hbaseRestFromEnv()}/${table}/${encodeURIComponent(row)}/${encodeURIComponent(column)}`, {
    headers: { Accept: 'application/json' },
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { Row: Array<{ Cell: Array<{ $: string }> }> };
  return Buffer.from(body.Row[0].Cell[0].$, 'base64').toString('utf8');
}

// Runs the example as a user would (compiled, against the real broker and HBase) and checks it
// resumed from the group's row and counted every page view once.
describe('examples/hbase-offsets', () => {
  let status: number | null;
  let output: string;

  beforeAll(() => {
    ({ status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--records', '2000']));
  });

  it('counts every page view once across a graceful stop and a restart from the offsets in HBase', () => {
    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    const firstStop = Number(/first context stopped after (\d+) records/.exec(output)?.[1]);
    expect(firstStop).toBeGreaterThanOrEqual(1000);
    expect(firstStop).toBeLessThan(2000);
    expect(output).toMatch(/history: [1-9]\d* rows /);
    expect(output).toContain('exactly the stored offsets');
    expect(output).toContain('every one of 2000 page views counted exactly once across a graceful stop and a restart from HBase');
  });

  it("leaves the offsets of every record in the group's row, one o:<topic>:<partition> cell each", async () => {
    const cells = [...output.matchAll(/get '(\S+)', '(group:\S+)', '(o:\S+)' -> (\d+)/g)];
    expect(cells).toHaveLength(3);
    const offsets = await Promise.all(cells.map(([, table, row, column]) => cell(table, row, column)));
    expect(offsets.map(Number).reduce((sum, offset) => sum + offset, 0)).toBe(2000);
  });
});
