import { raceAbort } from './raceAbort';

describe('raceAbort', () => {
  it('settles as the promise does while the signal stays quiet, then stops listening', async () => {
    const controller = new AbortController();
    const removed = jest.spyOn(controller.signal, 'removeEventListener');
    await expect(raceAbort(Promise.resolve(7), controller.signal)).resolves.toBe(7);
    await expect(raceAbort(Promise.reject(new Error('failed')), controller.signal)).rejects.toThrow('failed');
    await expect(raceAbort(Promise.resolve(1), undefined)).resolves.toBe(1);
    expect(removed).toHaveBeenCalledTimes(2);
  });

  it("rejects with the signal's reason when it aborts first, or had aborted already", async () => {
    const controller = new AbortController();
    const waiting = raceAbort(new Promise<never>(() => undefined), controller.signal);
    controller.abort(new Error('stopping'));
    await expect(waiting).rejects.toThrow('stopping');
    await expect(raceAbort(Promise.resolve(1), controller.signal)).rejects.toThrow('stopping');
  });
});
