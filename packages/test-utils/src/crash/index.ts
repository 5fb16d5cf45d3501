/**
 * @dstream/test-utils/crash: the crash-restart harness. It runs a job (`jobs/job.js`,
 * `jobs/statefulJob.js`: plain JavaScript on the packages' compiled `dist`) as a child process,
 * kills and restarts it, and counts every record's effects. See `README.md` beside this file.
 */
export { JOBS_DIR, JobProcess, openEffects, runCrashTest } from './harness';
export type { CrashStore, CrashTestOptions, CrashTestResult, Effects, JobEvent, JobProcessOptions } from './harness';
export { runStateCrashTest } from './stateHarness';
export type { StateCrashStore, StateCrashTestOptions, StateCrashTestResult } from './stateHarness';
export { runPoisonJob } from './poisonJob';
export type { PoisonJobResult } from './poisonJob';
