import { ConfigError } from '../errors';
import { ManualClock } from './ManualClock';

describe('ManualClock', () => {
  it('starts at the given time and moves only when told to', async () => {
    const clock = new ManualClock(5000);
    expect(clock.nowMs()).toBe(5000);
    await clock.advance(250);
    expect(clock.nowMs()).toBe(5250);
    await clock.setTime(9000);
    expect(clock.nowMs()).toBe(9000);
  });

  it('wakes waiters in time order, ties in the order they started waiting, each at its own time', async () => {
    const clock = new ManualClock();
    const woken: string[] = [];
    const wait = (name: string, timeMs: number) => clock.waitUntil(timeMs).then(() => void woken.push(`${name}@${clock.nowMs()}`));
    const all = [wait('c', 300), wait('a', 100), wait('b1', 200), wait('b2', 200), wait('late', 301)];
    await clock.advance(300);
    expect(woken).toEqual(['a@100', 'b1@200', 'b2@200', 'c@300']);
    expect(clock.nextWakeUpMs).toBe(301);
    await clock.advance(1);
    await Promise.all(all);
    expect(woken.at(-1)).toBe('late@301');
  });

  it('lets the work a waiter triggers run, across promise chains and setImmediate, before advance resolves', async () => {
    const clock = new ManualClock();
    let isDone = false;
    void clock.waitUntil(1000).then(async () => {
      await Promise.resolve();
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      isDone = true;
    });
    await clock.advance(1000);
    expect(isDone).toBe(true);
  });

  it('wakes, within the same advance, a waiter that woken work registered', async () => {
    const clock = new ManualClock();
    const woken: number[] = [];
    void clock.waitUntil(100).then(async () => {
      woken.push(clock.nowMs());
      await clock.waitUntil(clock.nowMs() + 150);
      woken.push(clock.nowMs());
      await clock.waitUntil(clock.nowMs() + 150);
      woken.push(clock.nowMs());
    });
    await clock.advance(300);
    expect(woken).toEqual([100, 250]);
    expect(clock.nowMs()).toBe(300);
    await clock.advance(100);
    expect(woken).toEqual([100, 250, 400]);
  });

  it('resolves a wait for a time that has passed at once', async () => {
    const clock = new ManualClock(1000);
    await clock.waitUntil(1000);
    await clock.waitUntil(10);
    expect(clock.waiterCount).toBe(0);
  });

  it('rejects an aborted wait with the signal reason and forgets it', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const reason = new Error('stopping');
    const waited = clock.waitUntil(1000, controller.signal);
    expect(clock.waiterCount).toBe(1);
    controller.abort(reason);
    await expect(waited).rejects.toBe(reason);
    expect(clock.waiterCount).toBe(0);
    await expect(clock.waitUntil(2000, controller.signal)).rejects.toBe(reason);
    expect(clock.waiterCount).toBe(0);
  });

  it('runs overlapping advances one after the other', async () => {
    const clock = new ManualClock();
    const woken: number[] = [];
    void clock.waitUntil(150).then(() => void woken.push(clock.nowMs()));
    await Promise.all([clock.advance(100), clock.advance(100)]);
    expect(woken).toEqual([150]);
    expect(clock.nowMs()).toBe(200);
  });

  it('refuses to move backwards or by a negative amount', async () => {
    const clock = new ManualClock(1000);
    await expect(clock.setTime(999)).rejects.toThrow(ConfigError);
    await expect(clock.advance(-1)).rejects.toThrow(/must be a finite number >= 0/);
    expect(clock.nowMs()).toBe(1000);
    expect(() => new ManualClock(Number.NaN)).toThrow(ConfigError);
  });
});
