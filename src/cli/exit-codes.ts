/** Documented in the README; scripts and CI rely on them. */
export const EXIT = {
  ok: 0,
  rolloutFailed: 1,
  usage: 2,
  preflightRefused: 3,
  /** The maintenance window ended with hosts not yet started (scheduled runs). */
  incomplete: 4,
  interrupted: 130,
} as const;
