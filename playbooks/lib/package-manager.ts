/**
 * What the security-patch playbook needs from a package manager, as one record per manager
 * (./apt.ts, ./rpm.ts). The playbook's steps are the same on every host; each step asks the
 * host's record for its command. A new manager (zypper, apk) is one record, added to the list in
 * playbooks/security-patch.ts, and its tests.
 *
 * Every command is built with `sh`, which quotes every value; pending package names arrive as
 * arguments, already parsed from the `name old new` lines the manager's `listPending` printed.
 */
import type { ShellCommand, StepContext } from '../../src/index.js';

export interface PackageManager {
  /** What vars.packageManager and the fact `packageManager` say. */
  name: string;
  /** For the message when no manager is found: the program and the systems that have it. */
  requirement: string;
  /** Succeeds when the manager is installed on the host; detection tries the managers in order. */
  present: ShellCommand;
  /** Brings the package lists or repository metadata up to date, so the listing sees today's updates. */
  refresh(ctx: StepContext): ShellCommand;
  /** Prints one `name installed-version new-version` line per pending update (security ones only unless vars.securityOnly is false). */
  listPending(ctx: StepContext): ShellCommand;
  /** Fetches the packages while the host still serves, so the install out of rotation is short. */
  download(ctx: StepContext, names: string[]): ShellCommand;
  /** Installs exactly these packages without prompts, keeping changed configuration files; fails when one is left half set up. */
  install(ctx: StepContext, names: string[]): ShellCommand;
  /** Prints the installed version of package `$name` (a shell variable), in the format listPending prints. */
  installedVersion(ctx: StepContext): ShellCommand;
  /** Prints `yes` or `no`: whether what was installed is only in use after a reboot. */
  rebootRequired(ctx: StepContext): ShellCommand;
  /** Prints what a failed install left unfinished (nothing when the package database is consistent). */
  audit(ctx: StepContext): ShellCommand;
}

export const securityOnly = (ctx: StepContext) => String(ctx.vars.securityOnly ?? true) !== 'false';

/** vars.systemRoot without its trailing slash: '/' for the running system. */
export function systemRoot(ctx: StepContext): string {
  const root = String(ctx.vars.systemRoot ?? '/').replace(/\/+$/, '');
  return root === '' ? '/' : root;
}

/** A path on the system being patched. */
export const onSystem = (ctx: StepContext, path: string) => (systemRoot(ctx) === '/' ? path : `${systemRoot(ctx)}${path}`);
