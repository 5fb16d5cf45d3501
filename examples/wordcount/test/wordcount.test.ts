import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createKafkaLogReader } from '@dstream/core';
import { brokersFromEnv } from '@dstream/example-support';

// Runs the demo exactly as `npm run demo` does (compiled, against the real broker) with a smaller
// record count, and checks it resumed where it stopped and counted every record once.
describe('examples/wordcount', () => {
  it('counts every record once across a graceful stop and a restart from the checkpoint, leaving nothing behind', async () => {
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

    // A plain run deletes its topic and its checkpoints.
    const [, topic, checkpoints] = output.match(/topic (\S+) \(3 partitions\), group \S+, offsets checkpointed in (\S+)\n/) ?? [];
    expect(existsSync(checkpoints)).toBe(false);
    const reader = createKafkaLogReader({ 'bootstrap.servers': brokersFromEnv() });
    await reader.connect(10_000);
    try {
      // Deletion is done when the controller answered; a broker's metadata may trail it briefly.
      let names: string[] = [];
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        names = (await reader.getMetadata(10_000)).topics.map((t) => t.name);
        if (!names.includes(topic)) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(names).not.toContain(topic);
    } finally {
      await reader.disconnect();
    }
  });
});
