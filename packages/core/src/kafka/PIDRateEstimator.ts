import { ConfigError } from '../errors';

/** The gains and floor of a `PIDRateEstimator` (Spark's `spark.streaming.backpressure.pid.*`). */
export interface PIDRateEstimatorOptions {
  /** Weight of the current error (rate offered minus rate processed). Default 1. */
  readonly proportional?: number;
  /** Weight of the error accumulated as scheduling delay. Default 0.2. */
  readonly integral?: number;
  /** Weight of the error's rate of change. Default 0. */
  readonly derivative?: number;
  /** Lowest rate ever returned, in records per second. Default 100. */
  readonly minRate?: number;
}

/**
 * Estimates how many records per second a stream can take, from how long past batches took: a
 * proportional-integral-derivative controller on processing rate, as Spark's `PIDRateEstimator`.
 * The error is the rate of the last batch minus the rate it was processed at; the scheduling
 * delay, converted to records, stands in for the accumulated (integral) error.
 *
 * @example
 * const pid = new PIDRateEstimator(1000);
 * pid.compute(1000, 5000, 1000, 0);  // undefined: the first batch only sets the baseline
 * pid.compute(2000, 5000, 2000, 0);  // 2500: records/s after a slower batch
 */
export class PIDRateEstimator {
  private readonly proportional: number;
  private readonly integral: number;
  private readonly derivative: number;
  private readonly minRate: number;
  private isFirstRun = true;
  private latestTimeMs = -1;
  private latestRate = -1;
  private latestError = -1;
  private published: number | undefined;

  constructor(
    private readonly batchIntervalMs: number,
    options: PIDRateEstimatorOptions = {},
  ) {
    this.proportional = checkGain('backpressure.pid.proportional', options.proportional ?? 1);
    this.integral = checkGain('backpressure.pid.integral', options.integral ?? 0.2);
    this.derivative = checkGain('backpressure.pid.derivative', options.derivative ?? 0);
    this.minRate = options.minRate ?? 100;
    if (!(this.minRate > 0) || !Number.isFinite(this.minRate)) {
      throw new ConfigError(
        'backpressure.pid.minRate',
        options.minRate,
        'must be a positive number of records per second',
        'Pass e.g. 100, or omit it for the default.',
      );
    }
    if (!(batchIntervalMs > 0)) {
      throw new ConfigError('batchIntervalMs', batchIntervalMs, 'must be positive', 'Pass the batch interval in ms.');
    }
  }

  /** The last rate returned by `compute`; undefined until two batches with records completed. */
  get latestRateLimit(): number | undefined {
    return this.published;
  }

  /**
   * Feeds one completed batch and returns the new rate (records per second), or undefined when
   * the batch cannot inform one: it is the first, is not newer than the last, or had no records or
   * no processing time.
   *
   * @param timeMs when the batch completed
   * @param numRecords records the batch processed
   * @param processingDelayMs how long its processing took
   * @param schedulingDelayMs how long it waited before processing started
   */
  compute(timeMs: number, numRecords: number, processingDelayMs: number, schedulingDelayMs: number): number | undefined {
    if (!(timeMs > this.latestTimeMs && numRecords > 0 && processingDelayMs > 0)) return undefined;
    const secondsSinceUpdate = (timeMs - this.latestTimeMs) / 1000;
    const processingRate = (numRecords / processingDelayMs) * 1000;
    const error = this.latestRate - processingRate;
    // Records that piled up while the batch waited to be scheduled, as a rate over one interval.
    const historicalError = (schedulingDelayMs * processingRate) / this.batchIntervalMs;
    const dError = (error - this.latestError) / secondsSinceUpdate;
    const newRate = Math.max(
      this.latestRate - this.proportional * error - this.integral * historicalError - this.derivative * dError,
      this.minRate,
    );
    this.latestTimeMs = timeMs;
    if (this.isFirstRun) {
      // The first batch's rate was not chosen by this controller, so its error means nothing.
      this.latestRate = processingRate;
      this.latestError = 0;
      this.isFirstRun = false;
      return undefined;
    }
    this.latestRate = newRate;
    this.latestError = error;
    this.published = newRate;
    return newRate;
  }
}

function checkGain(option: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(option, value, 'must be a non-negative number', 'Pass a gain such as 0.2, or omit it for the default.');
  }
  return value;
}
