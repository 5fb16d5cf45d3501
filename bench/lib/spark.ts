/**
 * The Spark Streaming contender of the throughput benchmark: `bench/spark` (a Maven project, Spark
 * 3.5 from Maven Central) holds a direct-stream word count, `SparkWordCount.java`, run on
 * `local[2]` in a JVM of its own. Spark is a reference, not a dependency: the contender is skipped
 * where `mvn` or `java` is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const PROJECT = path.join(__dirname, '..', '..', 'spark');
const CLASSPATH_FILE = path.join(PROJECT, 'target', 'classpath.txt');

/**
 * The JVM flags Spark 3.5 needs on Java 17 (spark-submit adds the same ones, see Spark's
 * `JavaModuleOptions`): its serializers and off-heap code reach into these packages.
 */
const JAVA_17_OPENS = [
  'java.lang',
  'java.lang.invoke',
  'java.lang.reflect',
  'java.io',
  'java.net',
  'java.nio',
  'java.util',
  'java.util.concurrent',
  'java.util.concurrent.atomic',
  'sun.nio.ch',
  'sun.nio.cs',
  'sun.security.action',
  'sun.util.calendar',
].map((pkg) => `--add-opens=java.base/${pkg}=ALL-UNNAMED`);

/** Why Spark can't run here, or undefined when `mvn` and `java` are both on the PATH. */
export function sparkUnavailable(): string | undefined {
  for (const tool of ['mvn', 'java']) {
    if (spawnSync(tool, ['-version'], { stdio: 'ignore' }).status !== 0) return `${tool} is not on the PATH`;
  }
  return undefined;
}

/** Compiles the Spark job and resolves its classpath (Maven downloads Spark once, ~300 MB). */
export function buildSparkJob(): void {
  const result = spawnSync(
    'mvn',
    ['-q', '-B', '-f', path.join(PROJECT, 'pom.xml'), 'compile', 'dependency:build-classpath', `-Dmdep.outputFile=${CLASSPATH_FILE}`],
    { stdio: 'inherit' },
  );
  if (result.status !== 0 || !existsSync(CLASSPATH_FILE)) throw new Error(`mvn could not build bench/spark (exit ${result.status})`);
}

/** What the Spark job prints as its last line. */
export interface SparkReport {
  /** From `ssc.start()` to the end of the batch that covered the last record. */
  readonly ms: number;
  readonly records: number;
  /** The JVM's VmHWM, bytes. */
  readonly peakRssBytes: number;
  readonly totals: ReadonlyArray<readonly [string, number]>;
}

/** Runs the Spark word count over `records` records of `topic` from the start, on `local[2]`. */
export function runSparkWordCount(brokers: string, topic: string, records: number, batchIntervalMs: number): Promise<SparkReport> {
  const classpath = `${path.join(PROJECT, 'target', 'classes')}:${readFileSync(CLASSPATH_FILE, 'utf8').trim()}`;
  const args = [
    ...JAVA_17_OPENS,
    '-Djdk.reflect.useDirectMethodHandle=false',
    '-Xmx2g',
    '-cp',
    classpath,
    'dstream.bench.SparkWordCount',
    brokers,
    topic,
    String(records),
    String(batchIntervalMs),
    'local[2]',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    // Spark's and SLF4J's start-up chatter goes to stderr: keep it for a failure's message only.
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors = (errors + chunk).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => {
      const lines = output.trim().split('\n');
      if (code !== 0) {
        reject(new Error(`the Spark job exited with ${code}: ${errors.trim().split('\n').slice(-5).join(' | ')}`));
        return;
      }
      resolve(JSON.parse(lines[lines.length - 1]) as SparkReport);
    });
  });
}
