import { runBatches } from '../../testing/runBatches';

describe('flatMap', () => {
  it('emits every element of the iterable returned per record, arrays, sets and generators alike', async () => {
    function* repeat(word: string): Iterable<string> {
      yield word;
      yield word;
    }
    const output = await runBatches([['a b', ''], [], ['c']], (lines) =>
      lines.flatMap((line) => line.split(' ')).flatMap((word) => new Set([word, word.toUpperCase()])).flatMap(repeat),
    );
    expect(output).toEqual([['a', 'a', 'A', 'A', 'b', 'b', 'B', 'B', '', ''], [], ['c', 'c', 'C', 'C']]);
  });

  it('fails the batch when the function returns something that is not iterable', async () => {
    const run = runBatches([[1]], (numbers) => numbers.flatMap((n) => n as unknown as Iterable<number>));
    await expect(run).rejects.toThrow(/^flatMap threw: /);
  });
});
