import path from 'node:path';
import { runExample, zkFromEnv } from '@dstream/example-support';
import { createClient } from 'node-zookeeper-client';

/** The data of `paths`, read with a ZooKeeper client of the test's own. */
async function znodes(paths: readonly string[]): Promise<string[]> {
  const client = createClient(zkFromEnv());
  const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
  client.connect();
  try {
    await connected;
    return await Promise.all(
      paths.map((znode) => new Promise<string>((resolve, reject) => client.getData(znode, (error, data) => (error ? reject(error) : resolve(String(data)))))),
    );
  } finally {
    client.close();
  }
}

// Runs the example as a user would (compiled, against the real broker and ZooKeeper) and checks
// it resumed from the znodes and counted every page view once.
describe('examples/zookeeper-offsets', () => {
  let status: number | null;
  let output: string;

  beforeAll(() => {
    ({ status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--records', '2000']));
  });

  it('counts every page view once across a graceful stop and a restart from the offsets in ZooKeeper', () => {
    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    // The first context stopped midway, so the second one really resumed from stored offsets.
    const firstStop = Number(/first context stopped after (\d+) records/.exec(output)?.[1]);
    expect(firstStop).toBeGreaterThanOrEqual(1000);
    expect(firstStop).toBeLessThan(2000);
    expect(output).toContain("second context's first batch started at");
    expect(output).toContain('exactly the stored offsets');
    expect(output).toContain('every one of 2000 page views counted exactly once across a graceful stop and a restart from ZooKeeper');
  });

  it('leaves the offsets of every record in /consumers/<group>/offsets/<topic>/<partition>, where Kafka tools read them', async () => {
    const paths = [...output.matchAll(/zkCli\.sh get (\/consumers\/\S+\/offsets\/\S+\/\d) -> (\d+)/g)].map(([, znode]) => znode);
    expect(paths).toHaveLength(3);

    const offsets = (await znodes(paths)).map(Number);
    expect(offsets.reduce((sum, offset) => sum + offset, 0)).toBe(2000);
  });
});
