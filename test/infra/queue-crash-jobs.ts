/** The job of queue-crash.test.ts and its child process. */
export const CRASH_JOB = 'crash.work';
/** Short lock: a job whose worker died is found stalled within about this long. */
export const CRASH_LOCK_MS = 1000;
export interface CrashJobs {
  [CRASH_JOB]: { key: string };
}
