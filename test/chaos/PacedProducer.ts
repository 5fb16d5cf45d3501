import { Producer } from 'node-rdkafka';
import { services, waitFor } from '@dstream/test-utils';

/**
 * Produces unique records (`<partition>:<n>`, n counting from 0 in each partition) at a steady
 * pace into every partition of a topic, including partitions added while it runs, and keeps track
 * of what the broker acknowledged: that is what the job must count. Idempotent, with a delivery
 * timeout long enough to ride out a broker restart, so a record is written once or reported failed.
 */
export class PacedProducer {
  private readonly producer: Producer;
  private partitions: number;
  private produced: number[] = [];
  private acked = 0;
  private readonly failed = new Set<string>();
  private total = 0;
  private timer: NodeJS.Timeout | undefined;
  private nextPartition = 0;
  private started = 0;

  private constructor(
    private readonly topic: string,
    partitions: number,
  ) {
    this.partitions = partitions;
    this.produced = Array.from({ length: partitions }, () => 0);
    this.producer = new Producer({
      'bootstrap.servers': services.kafkaBrokers,
      dr_msg_cb: true,
      'enable.idempotence': true,
      'linger.ms': 20,
      'queue.buffering.max.messages': 2_000_000,
      'queue.buffering.max.kbytes': 1_048_576,
    }, { 'message.timeout.ms': 300_000 });
    this.producer.on('delivery-report', (error, report) => {
      if (error) this.failed.add(String(report.value));
      else this.acked += 1;
    });
  }

  static async connect(topic: string, partitions: number): Promise<PacedProducer> {
    const paced = new PacedProducer(topic, partitions);
    await new Promise<void>((resolve, reject) =>
      paced.producer.connect({ timeout: 10_000 }, (error) =>
        error ? reject(new Error(`connecting the chaos producer failed: ${error.message}`)) : resolve(),
      ),
    );
    paced.producer.setPollInterval(20);
    return paced;
  }

  /**
   * Produces `records` records in all: `backlogShare` of them at once (a backlog, so the job's
   * batches run full), the rest spread evenly over `durationMs`, 10 times a second.
   */
  start(records: number, durationMs: number, backlogShare = 0): void {
    this.total = records;
    this.started = Date.now();
    const backlog = Math.floor(records * backlogShare);
    const tick = () => {
      const paced = Math.ceil(((this.total - backlog) * (Date.now() - this.started)) / durationMs);
      const due = Math.min(this.total, backlog + paced);
      this.produceUpTo(due);
      if (this.producedCount < this.total) this.timer = setTimeout(tick, 100);
    };
    tick();
  }

  /** Writes into partitions [0, `partitions`) from now on, once the producer's metadata shows them. */
  async growTo(partitions: number): Promise<void> {
    await waitFor(
      () =>
        new Promise<boolean>((resolve) =>
          this.producer.getMetadata({ topic: this.topic, timeout: 5000 }, (error, metadata) =>
            resolve(!error && (metadata.topics.find((t) => t.name === this.topic)?.partitions.length ?? 0) >= partitions),
          ),
        ),
      60_000,
      `the producer's metadata of ${this.topic} with ${partitions} partitions`,
      250,
    );
    while (this.produced.length < partitions) this.produced.push(0);
    this.partitions = partitions;
  }

  get producedCount(): number {
    return this.produced.reduce((sum, n) => sum + n, 0);
  }

  /** Resolves once every record is produced and acknowledged or reported failed. */
  async finish(timeoutMs: number): Promise<void> {
    await waitFor(() => this.producedCount >= this.total, timeoutMs, `producing all ${this.total} records`, 200);
    await waitFor(() => this.acked + this.failed.size >= this.total, timeoutMs, `acks for all ${this.total} records`, 200);
  }

  /** Per partition, how many records were produced into it; records reported failed are in `failed`. */
  get endOffsets(): readonly number[] {
    return this.produced;
  }

  /** Records the broker did not acknowledge (`<partition>:<n>`): possibly written, possibly not. */
  get failedRecords(): ReadonlySet<string> {
    return this.failed;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
  }

  private produceUpTo(due: number): void {
    while (this.producedCount < due) {
      const partition = this.nextPartition;
      const n = this.produced[partition]!;
      try {
        this.producer.produce(this.topic, partition, Buffer.from(`${partition}:${n}`));
      } catch {
        // Local queue full (a broker outage): try again at the next tick.
        return;
      }
      this.produced[partition] = n + 1;
      this.nextPartition = (partition + 1) % this.partitions;
    }
  }
}
