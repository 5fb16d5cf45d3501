import { Progress } from './Progress';
import { formatTable } from './formatTable';

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, write: (text: string) => writes.push(text) }, writes };
}

describe('Progress', () => {
  it('redraws one bar line on a terminal for many partitions, then clears it', () => {
    const { stream, writes } = recorder(true);
    const progress = new Progress(stream, 'reading', 200);
    for (let i = 0; i < 200; i++) progress.tick();
    progress.done();
    expect(writes).toHaveLength(101);
    expect(writes[0]).toBe(`\rreading [${'-'.repeat(30)}] 2/200 partitions`);
    expect(writes[99]).toBe(`\rreading [${'#'.repeat(30)}] 200/200 partitions`);
    expect(writes[100]).toBe('\r\x1b[2K');
  });

  it('draws nothing when output is not a terminal, or for a few partitions', () => {
    const piped = recorder(false);
    const few = recorder(true);
    for (const [stream, total] of [[piped.stream, 500], [few.stream, 10]] as const) {
      const progress = new Progress(stream, 'reading', total);
      for (let i = 0; i < total; i++) progress.tick();
      progress.done();
    }
    expect([piped.writes, few.writes]).toEqual([[], []]);
  });
});

describe('formatTable', () => {
  it('pads columns and right-aligns numeric ones', () => {
    expect(formatTable(['TOPIC', 'LAG'], [['orders', '5'], ['clicks', '-'], ['a', '120']])).toBe(
      ['TOPIC   LAG', 'orders    5', 'clicks    -', 'a       120'].join('\n'),
    );
  });
});
