/**
 * @dstream/cli: the `dstream` command line. The bin runs `main`; the exports let a test or a
 * wrapper script run it in-process.
 */
export { main, createProgram } from './program';
export { ExitCode } from './exitCodes';
export type { CliIO } from './CliIO';
export { parseStoreUrl, redactUrl } from './stores/storeFromUrl';
export type { StoreLocation, StoreKind } from './stores/storeFromUrl';
export { parseOffsetsExport } from './offsets/OffsetsExport';
export type { OffsetsExport } from './offsets/OffsetsExport';
export { GroupActiveError } from './offsets/GroupActiveError';
export { describeGroup } from './kafka/describeGroup';
export type { GroupDescription } from './kafka/describeGroup';
