import { ConfigError } from '@dstream/core';

/**
 * Runs an example's `main` and ends the process: exit 0 when it resolves, 1 when it rejects. A
 * `ConfigError` (a bad argument) is printed as its message alone, which says the fix; anything
 * else with its stack.
 *
 * @example
 * runMain(async () => {
 *   await createTopic(brokersFromEnv(), 'sentences', 3);
 * });
 */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      if (error instanceof ConfigError) console.error(`${error.name}: ${error.message}`);
      else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}

/**
 * The value of `name` (e.g. `--records 2000`) in `argv` as an integer of at least `minimum`, or
 * `fallback` when the flag is absent. Throws `ConfigError` for a missing or wrong value.
 *
 * @example
 * const records = integerFlag(process.argv.slice(2), '--records', 2000, 2);
 */
export function integerFlag(argv: readonly string[], name: string, fallback: number, minimum = 1): number {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const text = argv[at + 1];
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isSafeInteger(value) || value < minimum) {
    throw new ConfigError(name, text, `must be an integer of at least ${minimum}`, `Example: ${name} ${fallback}.`);
  }
  return value;
}
