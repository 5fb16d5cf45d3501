import { runBatches2 } from '../../testing/runBatches';

type Left = readonly [string, number];
type Right = readonly [string, string];

// Key 'a' on both sides (twice on the left), 'b' only on the left, 'c' only on the right.
const left: Left[][] = [[['a', 1], ['b', 2], ['a', 3]], [], [['z', 9]]];
const right: Right[][] = [[['c', 'x'], ['a', 'y']], [['q', 'w']], []];

describe('join', () => {
  it('pairs every value of a key present on both sides and drops keys on one side only', async () => {
    const output = await runBatches2(left, right, (l, r) => l.join(r));
    expect(output).toEqual([
      [
        ['a', [1, 'y']],
        ['a', [3, 'y']],
      ],
      [],
      [],
    ]);
  });

  it('emits the cross product of the values of a key', async () => {
    const output = await runBatches2<Left, Right, [string, [number, string]]>(
      [[['k', 1], ['k', 2]]],
      [[['k', 'x'], ['k', 'y']]],
      (l, r) => l.join(r),
    );
    expect(output).toEqual([
      [
        ['k', [1, 'x']],
        ['k', [1, 'y']],
        ['k', [2, 'x']],
        ['k', [2, 'y']],
      ],
    ]);
  });
});

describe('leftOuterJoin', () => {
  it('keeps every left value, with undefined where the right side lacks the key', async () => {
    const output = await runBatches2(left, right, (l, r) => l.leftOuterJoin(r));
    expect(output).toEqual([
      [
        ['a', [1, 'y']],
        ['a', [3, 'y']],
        ['b', [2, undefined]],
      ],
      [],
      [['z', [9, undefined]]],
    ]);
  });
});

describe('rightOuterJoin', () => {
  it('keeps every right value, with undefined where the left side lacks the key', async () => {
    const output = await runBatches2(left, right, (l, r) => l.rightOuterJoin(r));
    expect(output).toEqual([
      [
        ['a', [1, 'y']],
        ['a', [3, 'y']],
        ['c', [undefined, 'x']],
      ],
      [['q', [undefined, 'w']]],
      [],
    ]);
  });
});

describe('fullOuterJoin', () => {
  it('keeps every value of either side, with undefined for the side that lacks the key', async () => {
    const output = await runBatches2(left, right, (l, r) => l.fullOuterJoin(r));
    expect(output).toEqual([
      [
        ['a', [1, 'y']],
        ['a', [3, 'y']],
        ['b', [2, undefined]],
        ['c', [undefined, 'x']],
      ],
      [['q', [undefined, 'w']]],
      [['z', [9, undefined]]],
    ]);
  });
});

describe('cogroup', () => {
  it('groups the values of each key on both sides, left keys first, then right-only keys', async () => {
    const output = await runBatches2(left, right, (l, r) => l.cogroup(r));
    expect(output).toEqual([
      [
        ['a', [[1, 3], ['y']]],
        ['b', [[2], []]],
        ['c', [[], ['x']]],
      ],
      [['q', [[], ['w']]]],
      [['z', [[9], []]]],
    ]);
  });

  it('joins a stream with itself reading its parent once per batch', async () => {
    let computeCount = 0;
    const output = await runBatches2<Left, Right, [string, [number, number]]>(
      [[['a', 1]], [['b', 2]]],
      [],
      (l) => {
        const counted = l.map((pair) => {
          computeCount += 1;
          return pair;
        });
        return counted.join(counted);
      },
    );
    expect(output).toEqual([[['a', [1, 1]]], [['b', [2, 2]]]]);
    expect(computeCount).toBe(2);
  });
});
