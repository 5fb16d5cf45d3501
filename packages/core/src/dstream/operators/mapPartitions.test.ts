import { runBatches } from '../../testing/runBatches';

describe('mapPartitions', () => {
  it('calls the function once per batch with all of its records', async () => {
    const calls: number[][] = [];
    const output = await runBatches([[1, 2, 3], [], [4]], (numbers) =>
      numbers.mapPartitions((records) => {
        calls.push([...records]);
        return [records.reduce((sum, n) => sum + n, 0)];
      }),
    );
    expect(calls).toEqual([[1, 2, 3], [], [4]]);
    expect(output).toEqual([[6], [0], [4]]);
  });

  it('accepts any iterable as the result', async () => {
    function* pairs(records: readonly number[]): Iterable<[number, number]> {
      for (let index = 1; index < records.length; index++) yield [records[index - 1], records[index]];
    }
    expect(await runBatches([[1, 2, 3]], (numbers) => numbers.mapPartitions(pairs))).toEqual([
      [
        [1, 2],
        [2, 3],
      ],
    ]);
  });

  it('receives the output of the narrow operators before it in one array', async () => {
    expect(
      await runBatches([[1, 2, 3, 4]], (numbers) =>
        numbers.filter((n) => n > 1).map((n) => n * 10).mapPartitions((records) => [records.join('+')]),
      ),
    ).toEqual([['20+30+40']]);
  });

  it('wraps a throw of the function without a record position', async () => {
    const run = runBatches([[{ topic: 't', partition: 0, offset: 5 }]], (records) =>
      records.mapPartitions(() => {
        throw new Error('pool exhausted');
      }),
    );
    await expect(run).rejects.toMatchObject({ message: 'mapPartitions threw: pool exhausted', offset: undefined });
  });
});
