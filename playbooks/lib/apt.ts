/** Debian and Ubuntu hosts: apt-get for updates, dpkg for what is installed. */
import { sh, type ShellCommand, type StepContext } from '../../src/index.js';
import { readDuration } from '../../src/util/duration.js';
import { onSystem, securityOnly, systemRoot, type PackageManager } from './package-manager.js';

function aptGet(ctx: StepContext): ShellCommand {
  return systemRoot(ctx) === '/' ? sh`apt-get` : sh`env APT_CONFIG=${onSystem(ctx, '/etc/apt/apt.conf')} apt-get`;
}

function dpkgRoot(ctx: StepContext): ShellCommand {
  return systemRoot(ctx) === '/' ? sh`` : sh`--root=${systemRoot(ctx)}`;
}

/** apt waits this long for another apt or dpkg to finish, then fails with a message naming the lock and its holder. */
function aptLockSeconds(ctx: StepContext): number {
  const value = ctx.vars.aptLockTimeout ?? '120s';
  const reading = readDuration(typeof value === 'number' ? value : String(value), "'120s'");
  if (!reading.ok) throw new Error(`variable aptLockTimeout: ${reading.problem}`);
  return Math.max(1, Math.round(reading.ms / 1000));
}

const aptLock = (ctx: StepContext) => sh`-o DPkg::Lock::Timeout=${aptLockSeconds(ctx)}`;

const LOCK_HOLDER_AWK = '$2 != "->" && $6 ~ (":" inode "$") { print $5; exit }';

/**
 * Runs an apt command with its errors in line with its output (so a failure's tail shows dpkg's
 * own messages in order); when it fails while dpkg's lock is still held, says by which process
 * (from /proc/locks), so a clash with unattended-upgrades or a person's apt run is named.
 */
function withLockReport(ctx: StepContext, command: ShellCommand): ShellCommand {
  return sh`lock=${onSystem(ctx, '/var/lib/dpkg/lock-frontend')}
${command} 2>&1
status=$?
if [ "$status" -ne 0 ] && inode=$(stat -c %i "$lock" 2>/dev/null); then
  holder=$(awk -v inode="$inode" ${LOCK_HOLDER_AWK} /proc/locks 2>/dev/null)
  if [ -n "$holder" ]; then
    echo "another package manager run holds the dpkg lock $lock: process $holder ($(cat "/proc/$holder/comm" 2>/dev/null)); waited ${aptLockSeconds(ctx)}s (vars.aptLockTimeout). Patch again when it has finished, or raise aptLockTimeout."
  fi
fi
exit "$status"`;
}

/**
 * Reads `apt-get -s` output: `Inst <name> [<old>] (<new> <origin>[, <origin>...] [<arch>])`. Only
 * upgrades of installed packages have an [old] version; with only=yes, only those whose origins
 * match the pattern (case-insensitive).
 */
const PENDING_AWK = `/^Inst / && $3 ~ /^\\[/ {
  old = substr($3, 2, length($3) - 2); new = substr($4, 2)
  origin = $0; sub(/^[^(]*\\([^ ]* /, "", origin)
  if (only != "yes" || tolower(origin) ~ tolower(pattern)) print $2, old, new
}`;

const installEnv = sh`env DEBIAN_FRONTEND=noninteractive APT_LISTCHANGES_FRONTEND=none NEEDRESTART_MODE=l`;

export const apt: PackageManager = {
  name: 'apt',
  requirement: 'apt-get (Debian, Ubuntu)',
  present: sh`command -v apt-get >/dev/null 2>&1`,
  refresh: (ctx) => withLockReport(ctx, sh`${aptGet(ctx)} -q ${aptLock(ctx)} update`),
  /** vars.securityOrigin: a regular expression for the origins that count as security, default 'security' (Debian-Security, Ubuntu's <release>-security). */
  listPending(ctx) {
    const pattern = String(ctx.vars.securityOrigin ?? 'security');
    return sh`simulated=$(${aptGet(ctx)} -s -q --with-new-pkgs upgrade) || { printf '%s\\n' "$simulated" >&2; exit 1; }
printf '%s\\n' "$simulated" | awk -v only=${securityOnly(ctx) ? 'yes' : 'no'} -v pattern=${pattern} ${PENDING_AWK}`;
  },
  download: (ctx, names) => withLockReport(ctx, sh`${aptGet(ctx)} -q -y -d ${aptLock(ctx)} install --only-upgrade -- ${names}`),
  /** A package that fails to configure fails the install; changed configuration files are kept (confold). */
  install: (ctx, names) =>
    withLockReport(
      ctx,
      sh`${installEnv} ${aptGet(ctx)} -q -y ${aptLock(ctx)} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade -- ${names}`,
    ),
  installedVersion: (ctx) => sh`dpkg-query ${dpkgRoot(ctx)} -W -f='\${Version}' -- "$name" 2>/dev/null`,
  rebootRequired: (ctx) => sh`if [ -e ${onSystem(ctx, '/var/run/reboot-required')} ]; then echo yes; else echo no; fi`,
  audit: (ctx) => sh`dpkg ${dpkgRoot(ctx)} --audit 2>&1 || true`,
};
