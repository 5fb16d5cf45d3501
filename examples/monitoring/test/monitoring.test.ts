import path from 'node:path';
import { runExample } from '@dstream/example-support';

// Runs the example as a user would (compiled, against the real broker and Redis, on free ports)
// and checks what it scraped from its own endpoints.
describe('examples/monitoring', () => {
  it('serves metrics and a timeline that agree with the page views it counted', () => {
    const { status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), [
      '--records', '1500', '--rate', '750', '--metrics-port', '0', '--ui-port', '0', '--host', '127.0.0.1',
    ]);

    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    expect(output).toMatch(/^metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
    expect(output).toMatch(/^batch timeline: http:\/\/127\.0\.0\.1:\d+$/m);
    expect(output).toMatch(/^lag after the first batch of the first wave \(750 views\):$/m);
    // The final scrape, printed after the lag reached 0.
    const scrape = output.slice(output.indexOf('GET http'));
    const records = [...scrape.matchAll(/^ {2}dstream_input_records_total\{topic="[^"]+",partition="(\d)"\} (\d+)$/gm)];
    expect(records.map((m) => m[1]).sort()).toEqual(['0', '1', '2']);
    expect(records.reduce((sum, m) => sum + Number(m[2]), 0)).toBe(1500);
    const lags = [...scrape.matchAll(/^ {2}dstream_consumer_lag_records\{[^}]+\} (\d+)$/gm)];
    expect(lags.map((m) => m[1])).toEqual(['0', '0', '0']);
    expect(scrape).toMatch(/^ {2}dstream_offset_commit_seconds_count\{store="redis"\} [1-9]\d*$/m);
    expect(output).toMatch(/completed batches, 1500 records, lag 0$/m);
    expect(output).toContain('every one of 1500 page views counted once; metrics and the timeline page agree');
  });
});
