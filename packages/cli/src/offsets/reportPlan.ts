import type { OffsetStore } from '@dstream/core';
import type { CliIO } from '../CliIO';
import type { OffsetChange } from './OffsetChange';
import { isWrite } from './OffsetChange';
import type { OffsetsSession } from './OffsetsSession';
import { formatPlan, planToJSON } from '../output/formatPlan';

/** What reset, migrate and import hand over once their plan is made. */
export interface PlanReport {
  readonly store: OffsetStore;
  readonly storeDisplay: string;
  readonly group: string;
  readonly changes: readonly OffsetChange[];
  readonly header: string;
  readonly execute: boolean;
  readonly json: boolean;
}

/**
 * Prints a plan and, with `execute`, writes it through the session's compare-and-set: the common
 * end of every command that changes offsets.
 */
export async function reportPlan(io: CliIO, session: OffsetsSession, report: PlanReport): Promise<void> {
  const { store, group, changes, execute } = report;
  const writes = changes.filter(isWrite).length;
  const written = execute ? await session.write(store, group, changes) : 0;
  if (report.json) {
    io.out.write(
      `${JSON.stringify({ group, store: report.storeDisplay, executed: execute, written, partitions: planToJSON(changes) }, null, 2)}\n`,
    );
    return;
  }
  io.out.write(`${report.header}\n\n`);
  io.out.write(changes.length === 0 ? 'no partitions to change\n' : `${formatPlan(changes)}\n`);
  if (execute) {
    io.out.write(`\nwrote ${written} partition(s) to ${report.storeDisplay} (compare-and-set against CURRENT)\n`);
  } else {
    io.out.write(
      `\ndry run: ${writes} of ${changes.length} partition(s) would change. ` +
        (writes > 0 ? 'Run again with --execute to write them.\n' : 'Nothing to write.\n'),
    );
  }
}
