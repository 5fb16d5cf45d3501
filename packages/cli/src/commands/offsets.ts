import { Command } from 'commander';
import type { CliIO } from '../CliIO';
import { offsetsExportCommand } from './offsetsExport';
import { offsetsImportCommand } from './offsetsImport';
import { offsetsMigrateCommand } from './offsetsMigrate';
import { offsetsResetCommand } from './offsetsReset';
import { offsetsShowCommand } from './offsetsShow';
import { offsetsStateCommand } from './offsetsState';

/** `dstream offsets`: see and operate a group's offsets in any store. */
export function offsetsCommand(io: CliIO): Command {
  return new Command('offsets')
    .description("see and operate a consumer group's offsets in any store")
    .addCommand(offsetsShowCommand(io))
    .addCommand(offsetsResetCommand(io))
    .addCommand(offsetsMigrateCommand(io))
    .addCommand(offsetsExportCommand(io))
    .addCommand(offsetsImportCommand(io))
    .addCommand(offsetsStateCommand(io));
}
