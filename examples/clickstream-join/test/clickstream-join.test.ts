import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expectedTotals } from '../src/adEvents';
import type { AdClickThrough } from '../src/clickThroughJob';

const IMPRESSIONS = 2000;

// Runs the compiled job against the real broker ($DSTREAM_KAFKA_BROKERS, default 127.0.0.1:9092)
// and checks what it printed and wrote against the input it produced, recomputed here.
describe('examples/clickstream-join', () => {
  let outDir: string;
  let output: string;
  let status: number | null;

  beforeAll(() => {
    outDir = mkdtempSync(path.join(tmpdir(), 'clickstream-join-'));
    const main = path.resolve(__dirname, '../dist/main.js');
    const result = spawnSync('node', [main, '--impressions', String(IMPRESSIONS), '--rate', '1000', '--out', outDir], {
      encoding: 'utf8',
      timeout: 100_000,
      env: process.env,
    });
    output = `${result.stdout}\n${result.stderr}`;
    status = result.status;
  });

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('exits 0 after counting every impression and click once', () => {
    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    const clicks = [...expectedTotals(IMPRESSIONS).values()].reduce((sum, ad) => sum + ad.clicks, 0);
    expect(output).toContain(`every one of ${IMPRESSIONS} impressions and ${clicks} clicks counted once`);
  });

  it('prints per-ad totals equal to the impressions and clicks it produced', () => {
    const printed = new Map<string, { impressions: number; clicks: number }>();
    for (const [, adId, impressions, clicks] of output.matchAll(/^total (ad-\d+) impressions=(\d+) clicks=(\d+) ctr=/gm)) {
      printed.set(adId, { impressions: Number(impressions), clicks: Number(clicks) });
    }
    expect(printed).toEqual(expectedTotals(IMPRESSIONS));
  });

  it('prints each batch in Spark layout with one row per ad shown in the batch', () => {
    expect(output).toMatch(/-{43}\nTime: \d+ ms\n-{43}\nad-\d +impressions=\d+ +clicks=\d+ +ctr=\d+\.\d%/);
  });

  it('writes one ctr-<time>.jsonl file per batch whose rows add up to every impression', () => {
    const files = readdirSync(outDir).filter((name) => /^ctr-\d+\.jsonl$/.test(name));
    expect(files.length).toBeGreaterThan(1);
    const rows: AdClickThrough[] = files.flatMap((name) =>
      readFileSync(path.join(outDir, name), 'utf8')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as AdClickThrough),
    );
    expect(rows.reduce((sum, row) => sum + row.impressions, 0)).toBe(IMPRESSIONS);
    for (const row of rows) {
      expect(row.clickThroughRate).toBeCloseTo(row.clicks / row.impressions, 10);
    }
    // No temporary file of the atomic writes is left behind.
    expect(readdirSync(outDir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
