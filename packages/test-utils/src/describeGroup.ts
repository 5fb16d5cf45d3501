// The consumer group view Kafka's own tools give, for tests that check what they show.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { services } from './services';

/** The repository root: `scripts/` holds the Kafka command-line tools. */
const ROOT = path.resolve(__dirname, '../../..');

/** Runs `scripts/kafka-consumer-groups --describe --group <group>` and parses its table: lag per `topic:partition`. */
export async function describeGroup(group: string): Promise<Map<string, { offset: number | null; lag: number | null }>> {
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      path.join(ROOT, 'scripts/kafka-consumer-groups'),
      ['--bootstrap-server', services.kafkaBrokers, '--describe', '--group', group],
      { timeout: 90_000 },
      (error, out, err) => (error ? reject(new Error(`kafka-consumer-groups failed: ${err || error.message}`)) : resolve(out)),
    ),
  );
  const rows = new Map<string, { offset: number | null; lag: number | null }>();
  const number = (text: string) => (text === '-' ? null : Number(text));
  for (const line of stdout.split('\n')) {
    const columns = line.trim().split(/\s+/);
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
    if (columns[0] !== group || columns.length < 6) continue;
    rows.set(`${columns[1]}:${columns[2]}`, { offset: number(columns[3]), lag: number(columns[5]) });
  }
  return rows;
}
