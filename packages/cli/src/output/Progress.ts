/** Where progress and messages go: a terminal gets a live bar, anything else nothing. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Operations over fewer partitions than this finish too fast for a bar to help. */
const MIN_TOTAL = 50;
const WIDTH = 30;

/**
 * A one-line progress bar on stderr for operations over many partitions, redrawn in place. It
 * draws only on a terminal, so piped or `--json` output stays clean.
 *
 * @example
 * const progress = new Progress(process.stderr, 'reading log ends', partitions.length);
 * for (const p of partitions) { await read(p); progress.tick(); }
 * progress.done();
 */
export class Progress {
  private count = 0;
  private readonly isShown: boolean;

  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
    private readonly total: number,
  ) {
    this.isShown = stream.isTTY === true && total >= MIN_TOTAL;
  }

  tick(): void {
    this.count += 1;
    if (!this.isShown) return;
    if (this.count !== this.total && this.count % Math.max(1, Math.floor(this.total / 100)) !== 0) return;
    const filled = Math.round((this.count / this.total) * WIDTH);
    this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${this.count}/${this.total} partitions`);
  }

  /** Clears the bar's line. */
  done(): void {
    if (this.isShown) this.stream.write('\r\x1b[2K');
  }
}
