import { ConfigError } from '../errors';
import { PIDRateEstimator } from './PIDRateEstimator';

describe('PIDRateEstimator', () => {
  it('returns no rate for the first batch, which only sets the baseline', () => {
    const pid = new PIDRateEstimator(1000);
    expect(pid.compute(1000, 5000, 1000, 0)).toBeUndefined();
    expect(pid.latestRateLimit).toBeUndefined();
  });

  it('lowers the rate to what a slower batch was processed at, with the default gains', () => {
    const pid = new PIDRateEstimator(1000);
    pid.compute(1000, 5000, 1000, 0);
    expect(pid.compute(2000, 5000, 2000, 0)).toBe(2500);
    expect(pid.latestRateLimit).toBe(2500);
  });

  it('lowers the rate further when batches waited to be scheduled (the integral term)', () => {
    const pid = new PIDRateEstimator(1000);
    pid.compute(1000, 5000, 1000, 0);
    // processing rate 2500/s; 1 s of scheduling delay is 2500 records behind: 0.2 * 2500 = 500 less.
    expect(pid.compute(2000, 5000, 2000, 1000)).toBe(2000);
  });

  it('never goes below minRate', () => {
    const pid = new PIDRateEstimator(1000, { minRate: 300 });
    pid.compute(1000, 1000, 1000, 0);
    expect(pid.compute(2000, 10, 10_000, 50_000)).toBe(300);
  });

  it('ignores batches without records, without processing time, or not newer than the last', () => {
    const pid = new PIDRateEstimator(1000);
    pid.compute(1000, 5000, 1000, 0);
    expect(pid.compute(2000, 0, 1000, 0)).toBeUndefined();
    expect(pid.compute(2000, 10, 0, 0)).toBeUndefined();
    expect(pid.compute(1000, 10, 10, 0)).toBeUndefined();
    expect(pid.latestRateLimit).toBeUndefined();
  });

  it('uses the derivative term when asked to', () => {
    const pid = new PIDRateEstimator(1000, { proportional: 0, integral: 0, derivative: 1, minRate: 1 });
    pid.compute(1000, 5000, 1000, 0);
    // error = 5000 - 2500 = 2500 over 1 s: the rate drops by 2500.
    expect(pid.compute(2000, 5000, 2000, 0)).toBe(2500);
  });

  it('rejects negative gains and a non-positive minRate with a ConfigError', () => {
    expect(() => new PIDRateEstimator(1000, { integral: -1 })).toThrow(ConfigError);
    expect(() => new PIDRateEstimator(1000, { minRate: 0 })).toThrow(/backpressure.pid.minRate/);
  });
});
