/**
 * What the security-patch playbook needs from a package manager, as one record per manager
 * (./apt.ts, ./rpm.ts). The playbook's steps are the same on every host; each step asks the
 * host's record for its command. A new manager (zypper, apk) is one record, added to the list in
 * playbooks/security-patch.ts, and its tests.
 *
 * Every command is built with `sh`, which quotes every value; pending package names arrive as
 * arguments, already parsed from the `name old new` lines the manager's `listPending` printed,
 * and checked by checkPackageNames. Quoting stops the shell, not the program: every list of names
 * (and every `$name`) follows `--`, the end of options, so no name can be read as an option.
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

/**
 * What a package name may look like on the systems ship patches: Debian's policy (lower-case
 * letters, digits, + - .), an architecture after a colon (libc6:i386), and rpm's wider set
 * (upper case, _ and ~). It starts with a letter or digit, so it is never an option.
 */
const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~:-]*$/;

/**
 * `names` as the host reported them, refused (the step fails, naming the host) when one is not a
 * package name: the listing came from the host's package sources and tools, and a name like
 * `-oAPT::...` or `--setopt=...` means something is wrong there.
 */
export function checkPackageNames(ctx: StepContext, names: string[]): string[] {
  const bad = names.filter((name) => !PACKAGE_NAME.test(name));
  if (bad.length === 0) return names;
  throw new Error(
    `host ${ctx.host.name} listed pending updates for ${bad.map((name) => JSON.stringify(name)).join(', ')}, which ${bad.length === 1 ? 'is not a package name' : 'are not package names'} (a letter or digit, then letters, digits and . _ + ~ : -); nothing was installed on it: check its package sources and the output of the step "list pending updates"`,
  );
}
