import { bufferCount, concatMap, distinct, filter, map, scan, take, throwError } from 'rxjs';
import { RecordProcessingError } from '../../errors';
import { runBatches } from '../../testing/runBatches';

describe('pipe', () => {
  it('replaces each batch by what the RxJS operators emit for its records', async () => {
    const output = await runBatches([[1, 2, 3, 4], [], [5, 6]], (numbers) =>
      numbers.pipe(
        filter((n) => n % 2 === 0),
        map((n) => `#${n}`),
      ),
    );
    expect(output).toEqual([['#2', '#4'], [], ['#6']]);
  });

  it('completes the records at the end of the batch, so buffers flush and stateful operators restart per batch', async () => {
    const output = await runBatches([[1, 2, 3], [10, 20]], (numbers) =>
      numbers.pipe(
        scan((total, n) => total + n, 0),
        bufferCount(2),
      ),
    );
    // scan starts from 0 in each batch; bufferCount emits its partial buffer when the batch completes.
    expect(output).toEqual([[[1, 3], [6]], [[10, 30]]]);
  });

  it('removes duplicates within a batch only: distinct starts afresh with each batch', async () => {
    const output = await runBatches([[1, 2, 1, 3], [3, 4]], (numbers) => numbers.pipe(distinct(), bufferCount(2)));
    expect(output).toEqual([[[1, 2], [3]], [[3, 4]]]);
  });

  it('runs after fused narrow operators, on the array they produce', async () => {
    const output = await runBatches([[1, 2, 3, 4]], (numbers) =>
      numbers
        .filter((n) => n > 1)
        .map((n) => n * 10)
        .pipe(scan((total, n) => total + n, 0)),
    );
    expect(output).toEqual([[20, 50, 90]]);
  });

  it('ends a batch early when an operator completes before its input does', async () => {
    const output = await runBatches([[1, 2, 3], [4, 5, 6]], (numbers) => numbers.pipe(take(2)));
    expect(output).toEqual([
      [1, 2],
      [4, 5],
    ]);
  });

  it('waits for asynchronous operators to complete', async () => {
    const output = await runBatches([['a', 'b']], (letters) =>
      letters.pipe(concatMap(async (letter) => letter.toUpperCase())),
    );
    expect(output).toEqual([['A', 'B']]);
  });

  it('returns the same records with no operators', async () => {
    expect(await runBatches([[1, 2]], (numbers) => numbers.pipe())).toEqual([[1, 2]]);
  });

  it('types each step of the chain', async () => {
    const output = await runBatches([[1, 2]], (numbers) =>
      numbers.pipe(
        map((n) => n * 2),
        map((n) => n.toFixed(1)),
        map((text) => text.length),
        map((length) => [length] as const),
        map(([length]) => length + 1),
        map((n) => String(n)),
        map((text) => text.padStart(3, '0')),
        map((text) => text.split('')),
        map((chars) => chars.join('-')),
        map((text) => text.toUpperCase()),
      ),
    );
    expect(output).toEqual([['0-0-4', '0-0-4']]);
  });

  it('fails the batch with a RecordProcessingError naming pipe when an operator throws', async () => {
    const run = runBatches([[1, 2]], (numbers) =>
      numbers.pipe(
        map((n) => {
          if (n === 2) throw new Error('bad record 2');
          return n;
        }),
      ),
    );
    await expect(run).rejects.toThrow(RecordProcessingError);
    await expect(
      runBatches([[1]], (numbers) => numbers.pipe(concatMap(() => throwError(() => new Error('lookup failed'))))),
    ).rejects.toMatchObject({ name: 'RecordProcessingError', message: 'pipe threw: lookup failed' });
  });

  it('fails the batch when an operator does not return an Observable', async () => {
    const notAnOperator = () => 42;
    const run = runBatches([[1]], (numbers) => numbers.pipe(notAnOperator as never));
    await expect(run).rejects.toThrow('pipe threw: an operator returned number instead of an Observable');
  });

  it('refuses an operator that is not a function before the context starts', async () => {
    await expect(runBatches([[1]], (numbers) => numbers.pipe(map((n: number) => n), 'take' as never))).rejects.toThrow(
      'pipe(operators[1]) must be a function; got "take".',
    );
  });
});
