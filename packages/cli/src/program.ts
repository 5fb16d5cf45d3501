import { Command, CommanderError } from 'commander';
import { DStreamError } from '@dstream/core';
import { CliIO, processIO } from './CliIO';
import { offsetsCommand } from './commands/offsets';
import { runCommand } from './commands/run';
import { ExitCode, exitCodeOf } from './exitCodes';
import { scrub } from './stores/storeFromUrl';

const VERSION = '0.1.0';

/**
 * The `dstream` program: one subcommand per file under `commands/`. Errors are not printed or
 * turned into exits here; `main` does both.
 */
export function createProgram(io: CliIO = processIO): Command {
  const program = new Command('dstream')
    .description('Run dstream jobs on every core and operate them: see and steer their offsets in any store')
    .version(VERSION)
    .addCommand(runCommand(io))
    .addCommand(offsetsCommand(io));
  const configure = (command: Command) => {
    command.exitOverride();
    command.configureOutput({ writeOut: (text) => io.out.write(text), writeErr: (text) => io.err.write(text) });
    command.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Passwords in URL arguments (`scheme://user:password@host`), raw and decoded, to scrub from output. */
export function secretsIn(argv: readonly string[]): string[] {
  const secrets: string[] = [];
  for (const token of argv) {
    for (const match of token.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^/@:\s]*:([^@/\s]+)@/gi)) {
      secrets.push(match[1]);
      try {
        secrets.push(decodeURIComponent(match[1]));
      } catch {
        // Not percent-encoded: the raw form is the secret.
      }
    }
  }
  return secrets;
}

/**
 * Runs the CLI on `argv` (the arguments after `dstream`) and resolves with the exit code
 * (docs/cli.md lists them). Messages name the flag, the value and the fix; passwords in URLs are
 * never printed.
 *
 * @example
 * process.exitCode = await main(['offsets', 'show', '--store', 'redis://127.0.0.1:6379', '--group', 'wordcount']);
 */
export async function main(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  const secrets = secretsIn(argv);
  const guarded: CliIO = {
    in: io.in,
    out: { write: (text: string) => io.out.write(scrub(text, secrets)) },
    err: { isTTY: io.err.isTTY, write: (text: string) => io.err.write(scrub(text, secrets)) },
  };
  try {
    await createProgram(guarded).parseAsync([...argv], { from: 'user' });
    return ExitCode.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed its message (usage errors) or the help/version it was asked for.
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    const message = error instanceof DStreamError ? error.message : `${(error as Error)?.stack ?? String(error)}`;
    guarded.err.write(`dstream: ${message}\n`);
    return exitCodeOf(error);
  }
}
