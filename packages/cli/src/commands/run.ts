import { existsSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { ConfigError, DStreamError, runWorkers } from '@dstream/core';
import type { RunWorkersOptions } from '@dstream/core';
import type { CliIO } from '../CliIO';
import { parseInteger } from '../options';

interface RunFlags {
  readonly workers?: string;
}

/** What `dstream run` needs of the supervisor: `runWorkers`, replaced in unit tests. */
export type Supervise = (options: RunWorkersOptions) => ReturnType<typeof runWorkers>;

/**
 * `dstream run [--workers N] <job> [args...]`: runs a job file in N processes of one consumer
 * group (one per core by default) and supervises them: a crashed worker is restarted with backoff,
 * SIGTERM/SIGINT are forwarded so every worker finishes its batch and commits, and the command
 * exits once all have stopped (0 if all stopped cleanly). The job file is the same one that runs
 * alone or on other machines; each worker finds its index in `DSTREAM_WORKER_ID`.
 */
export function runCommand(io: CliIO, supervise: Supervise = runWorkers): Command {
  return new Command('run')
    .description('run a job file in N supervised worker processes of one consumer group')
    .argument('<job>', 'the job file (JavaScript), run as `node <job> [args...]` in every worker')
    .argument('[args...]', 'arguments for the job (after --)')
    .option('-w, --workers <n>', `worker processes (default: one per core, ${os.availableParallelism()} here)`)
    .action(async (job: string, args: string[], flags: RunFlags) => {
      const jobFile = path.resolve(job);
      if (!existsSync(jobFile) || !statSync(jobFile).isFile()) {
        throw new ConfigError('<job>', job, 'must be a job file that exists', 'Pass the path of the compiled job, e.g. dist/main.js.');
      }
      const workers = flags.workers === undefined ? undefined : parseInteger('--workers', flags.workers, 1, '2');
      io.err.write(`dstream run: ${workers ?? os.availableParallelism()} workers of ${path.relative(process.cwd(), jobFile) || jobFile}\n`);
      const result = await supervise({ jobFile, args, workers });
      io.err.write(
        `dstream run: all workers stopped; ${result.batches} batches, ${result.records} records, ${result.restarts} restarts\n`,
      );
      if (result.exitCode !== 0) {
        throw new DStreamError('a worker ended with an error (its own output above says which); see the restarts logged');
      }
    });
}
