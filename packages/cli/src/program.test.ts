import { inspect } from 'node:util';
import { PassThrough } from 'node:stream';
import { ExitCode } from './exitCodes';
import { planReset } from './offsets/planReset';
import { parseOffsetsExport } from './offsets/OffsetsExport';
import { parseDatetime, parseInteger, parsePartitionList } from './options';
import { main, secretsIn } from './program';
import { parseStoreUrl, redactUrl } from './stores/storeFromUrl';

/** Runs the CLI with captured output. Every case here fails in argument checks, before any connection. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    out: { write: (text: string) => (out += text) },
    err: { isTTY: false, write: (text: string) => (err += text) },
    in: new PassThrough(),
  });
  return { code, out, err };
}

describe('dstream argument parsing', () => {
  it('requires --store and --group, naming the flag and an example', async () => {
    expect(await run('offsets', 'show', '--group', 'g')).toEqual({
      code: ExitCode.USAGE,
      out: '',
      err: 'dstream: --store is required; got undefined. Pass e.g. --store redis://127.0.0.1:6379.\n',
    });
    const noGroup = await run('offsets', 'show', '--store', 'redis://127.0.0.1:6379');
    expect(noGroup.code).toBe(ExitCode.USAGE);
    expect(noGroup.err).toContain('--group is required');
  });

  it('rejects a reset with no target or two targets', async () => {
    const none = await run('offsets', 'reset', '--store', 'redis://127.0.0.1:6379', '--group', 'g', '--topic', 't');
    expect(none.code).toBe(ExitCode.USAGE);
    expect(none.err).toContain('reset target must be exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by; got "none"');
    const two = await run('offsets', 'reset', '--store', 'redis://127.0.0.1:6379', '--group', 'g', '--topic', 't', '--to-earliest', '--to-offset', '5');
    expect(two.err).toContain('got "--to-earliest --to-offset"');
  });

  it('rejects a reset without a scope, and --partition without exactly one --topic', async () => {
    const noScope = await run('offsets', 'reset', '--store', 'redis://127.0.0.1:6379', '--group', 'g', '--to-latest');
    expect(noScope.code).toBe(ExitCode.USAGE);
    expect(noScope.err).toContain('--topic or --all-topics is required for a reset');
    const partitions = await run(
      'offsets', 'reset', '--store', 'redis://127.0.0.1:6379', '--group', 'g', '--to-latest', '--topic', 'a', '--topic', 'b', '--partition', '0',
    );
    expect(partitions.err).toContain('--partition needs exactly one --topic; got "0"');
  });

  it('names a bad value of a numeric or time flag with the fix', async () => {
    const base = ['offsets', 'reset', '--store', 'redis://127.0.0.1:6379', '--group', 'g', '--topic', 't'];
    expect((await run(...base, '--to-offset', '-3')).err).toContain('--to-offset must be a non-negative integer; got "-3". Pass e.g. --to-offset 1000.');
    expect((await run(...base, '--shift-by', '1.5')).err).toContain('--shift-by must be an integer; got "1.5"');
    expect((await run(...base, '--to-datetime', '2026-12-01 10:00')).err).toContain(
      '--to-datetime must be an ISO 8601 date-time with a time zone, or milliseconds since the epoch; got "2026-12-01 10:00"',
    );
    expect((await run(...base, '--to-latest', '--partition', '0,x')).err).toContain('--partition must be a comma-separated list of partition numbers; got "0,x"');
    expect((await run(...base, '--to-latest', '--timeout-ms', '0')).err).toContain('--timeout-ms must be a positive integer; got "0"');
  });

  it('reports an unknown flag with commander\'s suggestion and exit code 2', async () => {
    const result = await run('offsets', 'reset', '--to-earlist');
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.err).toContain("unknown option '--to-earlist'");
    expect(result.err).toContain('--to-earliest');
  });

  it('never prints the password of a store URL, even in an error about it', async () => {
    const result = await run('offsets', 'show', '--store', 'redis://:hunter2@127.0.0.1:6379?db=1', '--group', 'g');
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.err).toContain('--store has an unknown query parameter "db"; got "redis://***@127.0.0.1:6379?db=1". Use only keyPrefix.');
    expect(result.err).not.toContain('hunter2');
  });

  it('refuses migrating a store onto itself', async () => {
    const result = await run('offsets', 'migrate', '--from', 'redis://127.0.0.1:6379', '--to', 'redis://127.0.0.1:6379', '--group', 'g');
    expect(result.err).toContain('--to must differ from --from');
  });

  it('prints help and exits 0', async () => {
    const result = await run('offsets', 'show', '--help');
    expect(result.code).toBe(ExitCode.OK);
    expect(result.out).toContain('Usage: dstream offsets show [options]');
  });
});

describe('store URLs', () => {
  it('map each scheme to its store, with options from the query string', () => {
    expect(parseStoreUrl('--store', 'kafka://127.0.0.1:9092,127.0.0.1:9093')).toMatchObject({ kind: 'kafka', brokers: '127.0.0.1:9092,127.0.0.1:9093' });
    expect(parseStoreUrl('--store', 'redis://127.0.0.1:6379/2?keyPrefix=app').kind).toBe('redis');
    expect(parseStoreUrl('--store', 'zookeeper://127.0.0.1:2181/kafka?root=/dstream').kind).toBe('zookeeper');
    expect(parseStoreUrl('--store', 'hbase://127.0.0.1:18080?namespace=ops&table=offsets').kind).toBe('hbase');
    expect(inspect(parseStoreUrl('--store', 'hbase+https://rest.example:8443?table=jobs').create({ mustExist: true, timeoutMs: 5000 }), { breakLength: Infinity })).toContain(
      "url: 'https://rest.example:8443', table: 'dstream:jobs'",
    );
    expect(parseStoreUrl('--store', 'postgres://u:p@127.0.0.1:5432/db?schema=ops&table=offsets')).toMatchObject({
      kind: 'postgres',
      display: 'postgres://u:***@127.0.0.1:5432/db?schema=ops&table=offsets',
      secrets: ['p', 'p'],
    });
    expect(parseStoreUrl('--store', 'file:///var/lib/job/offsets').kind).toBe('checkpoint');
  });

  it('reject an unknown scheme, a relative file URL and a URL without host', () => {
    expect(() => parseStoreUrl('--from', 'mysql://127.0.0.1')).toThrow('--from has an unsupported scheme "mysql:"');
    expect(() => parseStoreUrl('--store', 'file://relative/path')).toThrow('--store must be a local path; got "file://relative/path". Write file:///absolute/path');
    expect(() => parseStoreUrl('--store', '/tmp/x')).toThrow('--store must be a store URL; got "/tmp/x"');
    expect(() => parseStoreUrl('--store', 'kafka://')).toThrow('--store must name a host and port');
  });

  it('redact passwords', () => {
    expect(redactUrl('redis://:pw@h:1')).toBe('redis://:***@h:1');
    expect(redactUrl('postgres://user@h/db')).toBe('postgres://user@h/db');
    expect(secretsIn(['--store=postgres://u:a%2Fb@h/db'])).toEqual(['a%2Fb', 'a/b']);
  });
});

describe('flag values', () => {
  it('parse integers, times and partition lists', () => {
    expect(parseInteger('--shift-by', '-20')).toBe(-20);
    expect(parseDatetime('--to-datetime', '2026-12-01T10:00:00+01:00')).toBe(Date.parse('2026-12-01T09:00:00Z'));
    expect(parseDatetime('--to-datetime', '1764583200000')).toBe(1764583200000);
    expect(parsePartitionList('--partition', '2, 0,2')).toEqual([0, 2]);
  });
});

describe('planReset', () => {
  const logs = [
    { topic: 't', partition: 0, logStart: 5, logEnd: 20 },
    { topic: 't', partition: 1, logStart: 0, logEnd: 8 },
  ];
  const stored = new Map([['t:0', 10]]);

  it('moves to the log bounds', () => {
    expect(planReset(logs, stored, { kind: 'earliest' }).map((c) => c.target)).toEqual([5, 0]);
    expect(planReset(logs, stored, { kind: 'latest' }).map((c) => c.target)).toEqual([20, 8]);
  });

  it('clamps an offset or a shift to the log, and leaves a partition with nothing stored unshifted', () => {
    expect(planReset(logs, stored, { kind: 'offset', offset: 2 })).toEqual([
      { topic: 't', partition: 0, current: 10, target: 5, note: '2 is before the log start: clamped' },
      { topic: 't', partition: 1, current: null, target: 2 },
    ]);
    expect(planReset(logs, stored, { kind: 'shift', by: 30 })).toEqual([
      { topic: 't', partition: 0, current: 10, target: 20, note: '40 is past the log end: clamped' },
      { topic: 't', partition: 1, current: null, target: null, note: 'nothing stored to shift' },
    ]);
  });

  it('takes the first offset at a time, or the log end where no record is that late', () => {
    const times = new Map([['t:0', 12], ['t:1', -1]]);
    expect(planReset(logs, stored, { kind: 'datetime', timeMs: 0 }, times).map((c) => c.target)).toEqual([12, 8]);
  });
});

describe('export files', () => {
  const valid = {
    format: 'dstream-offsets-export',
    version: 1,
    group: 'g',
    exportedAt: '2026-12-02T00:00:00.000Z',
    source: 'redis://127.0.0.1:6379',
    offsets: [{ topic: 't', partition: 0, offset: 4 }],
  };

  it('read a version-1 export', () => {
    expect(parseOffsetsExport('f.json', JSON.stringify(valid))).toEqual(valid);
  });

  it('reject a newer version, a bad entry and a duplicate, naming the file', () => {
    expect(() => parseOffsetsExport('f.json', JSON.stringify({ ...valid, version: 2 }))).toThrow(
      '<file> has version 2, and this dstream reads version 1; upgrade @dstream/cli; got "f.json"',
    );
    expect(() => parseOffsetsExport('f.json', JSON.stringify({ ...valid, offsets: [{ topic: 't', partition: 0, offset: -1 }] }))).toThrow(
      'has an invalid entry offsets[0]',
    );
    const twice = { ...valid, offsets: [...valid.offsets, ...valid.offsets] };
    expect(() => parseOffsetsExport('f.json', JSON.stringify(twice))).toThrow('lists t-0 twice');
  });
});
