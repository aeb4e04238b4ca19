import { AwsError } from '../aws/errors.js';
import { UsageError } from '../commands/errors.js';
import { ConfigError } from '../config/errors.js';
import type { RunStatus } from '../events.js';
import { PlaybookError } from '../playbook/load.js';

/** Documented in the README; scripts and CI rely on them. */
export const EXIT = {
  ok: 0,
  rolloutFailed: 1,
  usage: 2,
  preflightRefused: 3,
  /** The maintenance window ended with hosts not yet started (scheduled runs). */
  incomplete: 4,
  /** Standard output was lost (EPIPE, ENOSPC): the run stopped starting batches and put back what was in flight. */
  outputLost: 5,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The documented exit code of a finished run. */
export function exitCodeForStatus(status: RunStatus): ExitCode {
  switch (status) {
    case 'succeeded':
    case 'planned':
    case 'checked':
      return EXIT.ok;
    case 'refused':
      return EXIT.preflightRefused;
    case 'interrupted':
      return EXIT.interrupted;
    case 'incomplete':
      return EXIT.incomplete;
    case 'failed':
      return EXIT.rolloutFailed;
  }
}

/** The exit code of an error that ended a command before or outside a run's own outcome. */
export function exitCodeForError(error: unknown): ExitCode {
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof PlaybookError) return EXIT.usage;
  // AWS failing before the pre-flight (inventory discovery): nothing was changed, so it is a refusal.
  if (error instanceof AwsError) return EXIT.preflightRefused;
  return EXIT.rolloutFailed;
}

/** Worst first, as the README lists them: interrupted, output lost, failed, usage, refused, window ended, success. */
const SEVERITY: readonly ExitCode[] = [EXIT.interrupted, EXIT.outputLost, EXIT.rolloutFailed, EXIT.usage, EXIT.preflightRefused, EXIT.incomplete, EXIT.ok];

/** One exit code for a command that ran several apps. */
export function worstExitCode(codes: readonly ExitCode[]): ExitCode {
  return SEVERITY.find((code) => codes.includes(code)) ?? EXIT.ok;
}
