/**
 * `quiet`: how an instance that serves no load-balancer traffic (a worker) is told to stop taking
 * new work before it is restarted, and how ship learns it is idle. Built into the playbook by
 * src/playbook/quiet.ts.
 */
import { z } from 'zod';
import { duration } from './fields.js';

/**
 * Signal names every delivery understands: the shell's `kill -s` (dash, bash, busybox) and
 * `docker kill` / `podman kill --signal`. KILL and STOP are left out on purpose (see quietSignal).
 */
export const QUIET_SIGNALS = [
  'HUP',
  'INT',
  'QUIT',
  'ILL',
  'TRAP',
  'ABRT',
  'BUS',
  'FPE',
  'USR1',
  'SEGV',
  'USR2',
  'PIPE',
  'ALRM',
  'TERM',
  'CHLD',
  'CONT',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'XCPU',
  'XFSZ',
  'VTALRM',
  'PROF',
  'WINCH',
  'IO',
  'PWR',
  'SYS',
] as const;

/**
 * A signal name, with or without `SIG`, in any case ('TSTP', 'SIGTSTP', 'usr1'); resolves to the
 * bare upper-case name. KILL and STOP are refused: the app cannot catch them, so it could not
 * finish its jobs, which is all quieting is for.
 */
export const quietSignal = z.string().transform((value, ctx) => {
  const name = value.trim().toUpperCase().replace(/^SIG/, '');
  if (name === 'KILL' || name === 'STOP') {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(value)} cannot be caught by the app, so it could not finish its jobs: use the signal that makes it stop taking new work (e.g. 'TSTP' for Sidekiq, 'USR2' or 'QUIT' elsewhere)`,
    });
    return z.NEVER;
  }
  if (!(QUIET_SIGNALS as readonly string[]).includes(name)) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a signal name: use one like 'TSTP', 'SIGTSTP', 'USR1', 'QUIT' or 'TERM'` });
    return z.NEVER;
  }
  return name;
});

export const quietSchema = z
  .strictObject({
    signal: quietSignal.default('TSTP'),
    wait: duration.default(30_000),
    idleCommand: z.string().trim().min(1).optional(),
    pidFile: z.string().trim().min(1).optional(),
    command: z.string().trim().min(1).optional(),
  })
  .superRefine((quiet, ctx) => {
    if (quiet.pidFile !== undefined && quiet.command !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['command'],
        message: 'command replaces sending the signal to the process in pidFile: set one of quiet.pidFile and quiet.command, not both',
      });
    }
  });

export type QuietConfig = z.output<typeof quietSchema>;
