import { EventEmitter } from 'node:events';
import { ManualClock } from '../testing/ManualClock';
import { silentLogger } from '../util/Logger';
import { joinWhenAllowed, SupervisorChannel, WorkerJoinMessage } from './workerJoin';

/** A worker's IPC channel to its supervisor: records what the worker sends. */
class FakeChannel extends EventEmitter {
  readonly sent: WorkerJoinMessage[] = [];
  constructor(private readonly sendError: Error | null = null) {
    super();
  }
  send(message: WorkerJoinMessage, _handle: undefined, _options: undefined, callback: (error: Error | null) => void): boolean {
    this.sent.push(message);
    callback(this.sendError);
    return this.sendError === null;
  }
}

describe('joinWhenAllowed', () => {
  it('asks the supervisor and joins on its answer, ignoring other messages, then stops listening', async () => {
    const channel = new FakeChannel();
    let joined = false;
    const joining = joinWhenAllowed(channel as SupervisorChannel, new ManualClock(0), silentLogger, 15_000).then(() => (joined = true));
    expect(channel.sent).toEqual([{ dstream: 1, type: 'ReadyToJoin' }]);
    channel.emit('message', { type: 'Join' });
    channel.emit('message', { dstream: 1, type: 'BatchCompleted' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(joined).toBe(false);
    channel.emit('message', { dstream: 1, type: 'Join' });
    await joining;
    expect(channel.listenerCount('message')).toBe(0);
  });

  it('joins without waiting when the request cannot be sent, and after timeoutMs when no answer comes', async () => {
    await joinWhenAllowed(new FakeChannel(new Error('channel closed')) as SupervisorChannel, new ManualClock(0), silentLogger, 15_000);

    const clock = new ManualClock(0);
    const warnings: string[] = [];
    const channel = new FakeChannel();
    let joined = false;
    const joining = joinWhenAllowed(channel as SupervisorChannel, clock, { ...silentLogger, warn: (line) => void warnings.push(line) }, 15_000).then(
      () => (joined = true),
    );
    await clock.advance(14_999);
    expect(joined).toBe(false);
    await clock.advance(1);
    await joining;
    expect(warnings).toEqual(['no answer from the worker supervisor within 15000 ms; joining the group without waiting for the other workers']);
    expect(channel.listenerCount('message')).toBe(0);
  });
});
