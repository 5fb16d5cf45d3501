import { runBatches } from '../../testing/runBatches';

describe('print', () => {
  it("writes each batch's first records in Spark's layout, with ... when there are more", async () => {
    const written: string[] = [];
    await runBatches<unknown, unknown>([['a', 'b', 'c'], [], [{ word: 'x' }, 2]], (records) => {
      records.print(2, { write: (text) => written.push(text) });
      return records;
    });
    const rule = '-------------------------------------------';
    expect(written).toEqual([
      `${rule}\nTime: 1000 ms\n${rule}\na\nb\n...\n\n`,
      `${rule}\nTime: 2000 ms\n${rule}\n\n`,
      `${rule}\nTime: 3000 ms\n${rule}\n{"word":"x"}\n2\n\n`,
    ]);
  });

  it('prints ten records by default', async () => {
    const written: string[] = [];
    await runBatches([Array.from({ length: 11 }, (_, index) => index)], (numbers) => {
      numbers.print(undefined, { write: (text) => written.push(text) });
      return numbers;
    });
    const lines = written[0].split('\n');
    expect(lines.slice(3, 14)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '...']);
  });
});
