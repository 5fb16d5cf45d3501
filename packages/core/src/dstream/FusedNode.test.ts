import { RecordProcessingError } from '../errors';
import { runBatches } from '../testing/runBatches';
import { FusedNode } from './FusedNode';
import type { DStream } from './DStream';

interface ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

const record = (offset: number, value: string): ConsumerRecord => ({ topic: 'events', partition: 2, offset, value });

describe('FusedNode', () => {
  it('fuses a chain of narrow operators into one node over the original parent', async () => {
    let fused: unknown;
    let source: unknown;
    const output = await runBatches([['a b', 'c'], [], ['d e f']], (lines) => {
      source = lines;
      const stream = lines
        .flatMap((line) => line.split(' '))
        .map((word) => word.toUpperCase())
        .filter((word) => word !== 'E')
        .mapPartitions((words) => words.map((word, index) => `${index}:${word}`))
        .map((tagged) => [tagged, tagged.length] as const)
        .mapValues((length) => length * 10)
        .flatMapValues((length) => [length, length + 1]);
      fused = stream;
      return stream;
    });
    const stream = fused as { dependencies: readonly unknown[]; node: unknown };
    expect(stream.dependencies).toHaveLength(1);
    expect(stream.dependencies[0]).toBe(source);
    expect(stream.node).toBeInstanceOf(FusedNode);
    expect((stream.node as FusedNode<unknown>).stages.map((stage) => stage.name)).toEqual([
      'flatMap',
      'map',
      'filter',
      'mapPartitions',
      'map',
      'mapValues',
      'flatMapValues',
    ]);
    expect(output).toEqual([
      [['0:A', 30], ['0:A', 31], ['1:B', 30], ['1:B', 31], ['2:C', 30], ['2:C', 31]],
      [],
      [['0:D', 30], ['0:D', 31], ['1:F', 30], ['1:F', 31]],
    ]);
  });

  it('runs every stage on one record before the next record enters the chain', async () => {
    const calls: string[] = [];
    await runBatches([[1, 2]], (numbers) =>
      numbers
        .map((n) => {
          calls.push(`map ${n}`);
          return n * 10;
        })
        .filter((n) => {
          calls.push(`filter ${n}`);
          return true;
        })
        .flatMap((n) => {
          calls.push(`flatMap ${n}`);
          return [n, n + 1];
        })
        .map((n) => {
          calls.push(`last ${n}`);
          return n;
        }),
    );
    expect(calls).toEqual([
      'map 1', 'filter 10', 'flatMap 10', 'last 10', 'last 11',
      'map 2', 'filter 20', 'flatMap 20', 'last 20', 'last 21',
    ]);
  });

  it('leaves a stream it extended usable on its own', async () => {
    let doubled: unknown;
    const output = await runBatches([[1, 2, 3]], (numbers) => {
      const evens = numbers.map((n) => n * 2);
      doubled = evens.map((n) => n + 1);
      return evens;
    });
    expect(output).toEqual([[2, 4, 6]]);
    expect((doubled as { dependencies: readonly unknown[] }).dependencies).toHaveLength(1);
  });

  it('names the Kafka record at the head of the chain when a later stage throws', async () => {
    const failure = new Error('unparsable');
    const run = runBatches([[record(40, 'ok'), record(41, 'bad')]], (records) =>
      records
        .flatMap((r) => [r.value, r.value])
        .map((value) => {
          if (value === 'bad') throw failure;
          return value;
        }),
    );
    const error = await run.catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RecordProcessingError);
    expect(error).toMatchObject({ topic: 'events', partition: 2, offset: 41, cause: failure });
    expect((error as Error).message).toBe('map threw at events-2 offset 41: unparsable');
  });

  it('charges a failure to the stage whose function threw, not to the stages around it', async () => {
    const run = runBatches([[record(7, 'x')]], (records) =>
      records
        .map((r) => r.value)
        .filter(() => {
          throw new TypeError('predicate failed');
        })
        .map((value) => value),
    );
    await expect(run).rejects.toThrow('filter threw at events-2 offset 7: predicate failed');
  });

  it('charges a throw from a flatMap iterable to the flatMap', async () => {
    function* explode(): Iterable<string> {
      yield 'first';
      throw new Error('generator broke');
    }
    const run = runBatches([[record(3, 'x')]], (records) => records.flatMap(explode).map((value) => value));
    await expect(run).rejects.toThrow('flatMap threw at events-2 offset 3: generator broke');
  });

  it('reports no position when the record is not a Kafka record', async () => {
    const error = await runBatches([[1]], (numbers) =>
      numbers.map(() => {
        throw new Error('no');
      }),
    ).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RecordProcessingError);
    expect(error).toMatchObject({ topic: undefined, partition: undefined, offset: undefined });
    expect((error as Error).message).toBe('map threw: no');
  });

  it('names the record mapPartitions produced when a stage after it throws', async () => {
    const run = runBatches([[record(1, 'a')]], (records) =>
      records
        .mapPartitions((batch) => batch.map((r) => ({ ...r, offset: r.offset + 100 })))
        .map(() => {
          throw new Error('downstream');
        }),
    );
    await expect(run).rejects.toMatchObject({ offset: 101, message: 'map threw at events-2 offset 101: downstream' });
  });

  it('charges a throw from the iterable mapPartitions returned to mapPartitions', async () => {
    function* broken(): Iterable<number> {
      yield 1;
      throw new Error('half a batch');
    }
    const run = runBatches([[1, 2]], (numbers) => numbers.mapPartitions(broken).map((n) => n));
    await expect(run).rejects.toThrow('mapPartitions threw: half a batch');
  });
});

type Lines = DStream<string>;

describe('FusedNode under an aggregation (map-side combine)', () => {
  afterEach(() => jest.restoreAllMocks());

  const lines = [['a b a', 'c b'], [], ['d']];
  const words = (stream: Lines) => stream.flatMap((line) => line.split(' '));
  const pairs = (stream: Lines) => words(stream).map((word) => [word, 1] as const);

  it.each([
    ['reduceByKey', (s: Lines) => pairs(s).reduceByKey((x, y) => x + y), [[['a', 2], ['b', 2], ['c', 1]], [], [['d', 1]]]],
    ['countByValue', (s: Lines) => words(s).countByValue(), [[['a', 2], ['b', 2], ['c', 1]], [], [['d', 1]]]],
    ['count', (s: Lines) => words(s).count(), [[5], [0], [1]]],
    ['reduce', (s: Lines) => words(s).reduce((x, y) => x + y), [['abacb'], [], ['d']]],
    ['groupByKey', (s: Lines) => pairs(s).groupByKey(), [[['a', [1, 1]], ['b', [1, 1]], ['c', [1]]], [], [['d', [1]]]]],
  ] as const)('%s folds the records of a fused chain as they are produced, never collecting the chain’s batch', async (_, operation, expected) => {
    const compute = jest.spyOn(FusedNode.prototype, 'compute');
    const output = await runBatches(lines, operation as (s: Lines) => DStream<unknown>);
    expect(output).toEqual(expected);
    expect(compute).not.toHaveBeenCalled();
  });

  it('gives an aggregation the same records when another output also reads the fused chain', async () => {
    const seenByOther: unknown[][] = [];
    const output = await runBatches(lines, (stream) => {
      const chain = pairs(stream);
      chain.foreachBatch(async (records) => void seenByOther.push([...records]));
      return chain.reduceByKey((x, y) => x + y);
    });
    expect(output).toEqual([[['a', 2], ['b', 2], ['c', 1]], [], [['d', 1]]]);
    expect(seenByOther).toEqual([[['a', 1], ['b', 1], ['a', 1], ['c', 1], ['b', 1]], [], [['d', 1]]]);
  });

  it('charges a failing reduce function to reduceByKey, not to the flatMap that produced the pair', async () => {
    const run = runBatches([[record(7, 'x x')]], (events) =>
      events
        .flatMap((event) => event.value.split(' '))
        .map((word) => [word, 1] as const)
        .reduceByKey(() => {
          throw new Error('boom');
        }),
    );
    await expect(run).rejects.toMatchObject({ name: 'RecordProcessingError', message: 'reduceByKey threw: boom' });
  });

  it('names the Kafka record at the head of the chain when a stage of a chain under an aggregation throws', async () => {
    const run = runBatches([[record(3, 'ok'), record(4, 'bad')]], (events) =>
      events
        .map((event) => {
          if (event.value === 'bad') throw new Error('unparsable');
          return event.value;
        })
        .count(),
    );
    await expect(run).rejects.toMatchObject({ offset: 4, message: 'map threw at events-2 offset 4: unparsable' });
  });

  it('charges a throw from the iterable of a mapPartitions ending the chain to that mapPartitions, and the consumer’s own throw to the aggregation', async () => {
    const failingIterable = runBatches([['a']], (stream) =>
      stream
        .mapPartitions(function* (records) {
          yield* records;
          throw new Error('iterator broke');
        })
        .count(),
    );
    await expect(failingIterable).rejects.toMatchObject({ message: 'mapPartitions threw: iterator broke' });
    const failingFold = runBatches([['a', 'b']], (stream) =>
      stream
        .mapPartitions(function* (records) {
          yield* records;
        })
        .reduce(() => {
          throw new Error('no fold');
        }),
    );
    await expect(failingFold).rejects.toMatchObject({ message: 'reduce threw: no fold' });
  });
});
