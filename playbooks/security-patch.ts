/**
 * OS security updates, one batch at a time, for Debian/Ubuntu (apt) and RHEL-family (dnf, yum)
 * hosts; the package manager is detected per host and each step runs only where it applies.
 *
 *   stage (while serving):  detect the package manager, refresh the package lists (dnf/yum: expire the
 *                           cached metadata), list the pending (security) updates as `name old new`
 *                           lines (fact `pending`), download them. A host with nothing pending is
 *                           skipped: it never leaves the load balancer.
 *   activate (while out):   install exactly those packages without prompts (apt keeps changed config
 *                           files; rpm keeps them by itself, writing .rpmnew/.rpmsave), record what
 *                           changed (fact `upgraded`: `name old new` lines), ask whether a reboot is
 *                           needed (fact `rebootRequired`: apt's /var/run/reboot-required; dnf's
 *                           `needs-restarting -r`, yum-utils' for yum), and if so reboot and wait for a
 *                           new boot id; then ship's health checks and the load balancer. dnf and yum
 *                           exit 0 when a package's install scriptlet fails; the playbook treats that
 *                           as a failed install, as apt does a package that fails to configure.
 *   rollback:               upgrades are never undone. It only confirms that nothing changed (the
 *                           install failed before touching a package); otherwise the host stays out of
 *                           the load balancer and is reported, for a person to finish the job.
 *
 * Variables (all optional):
 *   securityOnly     true: only updates from security origins (apt: origin matching securityOrigin;
 *                    dnf/yum: --security). false: every pending update.
 *   securityOrigin   regular expression for apt origins, default 'security' (Debian-Security,
 *                    Ubuntu's <release>-security).
 *   packageManager   apt, dnf or yum, instead of detecting it.
 *   aptLockTimeout   how long apt waits for another apt/dpkg process to release its lock, default '120s'.
 *   rebootTimeout    how long a rebooting host may take to come back, default '10m'.
 *   rebootCommand, bootIdCommand   shell text from your config, run as written, instead of the
 *                    defaults (systemctl reboot; /proc/sys/kernel/random/boot_id).
 *   systemRoot       the root of the system to patch, default '/'. Another root is driven through
 *                    <root>/etc/apt/apt.conf (APT_CONFIG) and dpkg --root, or dnf --installroot
 *                    (which reads the root's own dnf.conf and repositories) and rpm --root; the tests
 *                    use it. yum hosts are patched at '/' only: yum-utils' needs-restarting cannot
 *                    look into another root.
 */
import { definePlaybook, run, sh, unsafeRaw, type ShellCommand, type StepContext } from '../src/index.js';
import { DEFAULT_BOOT_ID_COMMAND, DEFAULT_REBOOT_COMMAND, reboot } from '../src/playbook/define.js';
import { parseDuration } from '../src/util/duration.js';

const PACKAGE_MANAGERS = ['apt', 'dnf', 'yum'] as const;
type PackageManager = (typeof PACKAGE_MANAGERS)[number];

const packageManager = (ctx: StepContext) => ctx.facts.packageManager as PackageManager | undefined;
const isApt = (ctx: StepContext) => packageManager(ctx) === 'apt';
const isRpm = (ctx: StepContext) => packageManager(ctx) === 'dnf' || packageManager(ctx) === 'yum';
const securityOnly = (ctx: StepContext) => String(ctx.vars.securityOnly ?? true) !== 'false';

function systemRoot(ctx: StepContext): string {
  const root = String(ctx.vars.systemRoot ?? '/').replace(/\/+$/, '');
  return root === '' ? '/' : root;
}

/** A path on the system being patched. */
const onSystem = (ctx: StepContext, path: string) => (systemRoot(ctx) === '/' ? path : `${systemRoot(ctx)}${path}`);

function apt(ctx: StepContext): ShellCommand {
  return systemRoot(ctx) === '/' ? sh`apt-get` : sh`env APT_CONFIG=${onSystem(ctx, '/etc/apt/apt.conf')} apt-get`;
}

function dpkgRoot(ctx: StepContext): ShellCommand {
  return systemRoot(ctx) === '/' ? sh`` : sh`--root=${systemRoot(ctx)}`;
}

/** dnf or yum, pointed at systemRoot (an installroot brings its own configuration, repositories and cache). */
function rpmPackageManager(ctx: StepContext): ShellCommand {
  const pm = packageManager(ctx)!;
  return systemRoot(ctx) === '/' ? sh`${pm}` : sh`${pm} --installroot=${systemRoot(ctx)}`;
}

const rpmQuery = (ctx: StepContext) => (systemRoot(ctx) === '/' ? sh`rpm` : sh`rpm --root=${systemRoot(ctx)}`);

/** `[epoch:]version-release`, the way dnf and yum print versions. */
const RPM_VERSION_FORMAT = '%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n';

/** dnf picks the newest version or fails (`--best`), instead of quietly skipping one it cannot install. */
const rpmUpgrade = (ctx: StepContext) => (packageManager(ctx) === 'yum' ? sh`update` : sh`upgrade --best`);

/** apt waits this long for another apt or dpkg to finish, then fails with a message naming the lock and its holder. */
function aptLockSeconds(ctx: StepContext): number {
  const value = ctx.vars.aptLockTimeout ?? '120s';
  const parsed = parseDuration(typeof value === 'number' ? value : String(value));
  if (parsed === undefined) throw new Error(`variable aptLockTimeout ${JSON.stringify(value)} is not a duration like '120s'`);
  return Math.max(1, Math.round(parsed / 1000));
}

const aptLock = (ctx: StepContext) => sh`-o DPkg::Lock::Timeout=${aptLockSeconds(ctx)}`;

const LOCK_HOLDER_AWK = '$2 != "->" && $6 ~ (":" inode "$") { print $5; exit }';

/**
 * Runs an apt command with its errors in line with its output (so a failure's tail shows dpkg's
 * own messages in order); when it fails while dpkg's lock is still held, says by which process
 * (from /proc/locks), so a clash with unattended-upgrades or a person's apt run is named.
 */
function aptWithLockReport(ctx: StepContext, command: ShellCommand): ShellCommand {
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

/** `name old new` lines from stage. */
function pending(ctx: StepContext): string[][] {
  return (ctx.facts.pending ?? '')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length === 3);
}

const pendingNames = (ctx: StepContext) => pending(ctx).map(([name]) => name!);
const pendingLines = (ctx: StepContext) => pending(ctx).map((fields) => fields.join(' '));

const DETECT = sh`if command -v apt-get >/dev/null 2>&1; then echo apt
elif command -v dnf >/dev/null 2>&1; then echo dnf
elif command -v yum >/dev/null 2>&1; then echo yum
else echo 'no supported package manager on this host: ship patch needs apt-get (Debian, Ubuntu), dnf or yum (RHEL family); set vars.packageManager if it is installed off the PATH' >&2; exit 1
fi`;

function detect(ctx: StepContext): ShellCommand {
  const chosen = ctx.vars.packageManager;
  if (chosen === undefined || chosen === '') return DETECT;
  if (!PACKAGE_MANAGERS.includes(String(chosen) as PackageManager)) {
    throw new Error(`variable packageManager is ${JSON.stringify(chosen)}; ship patch knows ${PACKAGE_MANAGERS.join(', ')}`);
  }
  return sh`echo ${String(chosen)}`;
}

/**
 * Reads `apt-get -s` output: `Inst <name> [<old>] (<new> <origin>[, <origin>...] [<arch>])`. Only
 * upgrades of installed packages have an [old] version; with only=yes, only those whose origins
 * match the pattern (case-insensitive).
 */
const APT_PENDING_AWK = `/^Inst / && $3 ~ /^\\[/ {
  old = substr($3, 2, length($3) - 2); new = substr($4, 2)
  origin = $0; sub(/^[^(]*\\([^ ]* /, "", origin)
  if (only != "yes" || tolower(origin) ~ tolower(pattern)) print $2, old, new
}`;

function listAptPending(ctx: StepContext): ShellCommand {
  const pattern = String(ctx.vars.securityOrigin ?? 'security');
  return sh`simulated=$(${apt(ctx)} -s -q --with-new-pkgs upgrade) || { printf '%s\\n' "$simulated" >&2; exit 1; }
printf '%s\\n' "$simulated" | awk -v only=${securityOnly(ctx) ? 'yes' : 'no'} -v pattern=${pattern} ${APT_PENDING_AWK}`;
}

/**
 * Reads `check-update` output: `name.arch [epoch:]version-release repo` per update, exit status 100
 * when there are any. yum puts a name too long for its column on a line of its own, with the
 * version and repository on the next; `Obsoleting Packages` ends the list; a package with more
 * than one architecture (multilib) is listed once.
 */
const RPM_PENDING_AWK = `/^Obsoleting/ { exit }
NF == 1 && $1 ~ /\\./ { held = $1; next }
held != "" && NF == 2 { $0 = held " " $0 }
{ held = "" }
NF == 3 && $1 ~ /\\./ { name = $1; sub(/\\.[^.]*$/, "", name); if (!seen[name]++) print name, $2 }`;

/** Forgets the cached repository metadata, so the listing sees updates published since (dnf keeps it 48 hours by default). */
function refreshRpm(ctx: StepContext): ShellCommand {
  return packageManager(ctx) === 'yum' ? sh`${rpmPackageManager(ctx)} -q clean expire-cache` : sh`${rpmPackageManager(ctx)} -q makecache --refresh`;
}

function listRpmPending(ctx: StepContext): ShellCommand {
  if (packageManager(ctx) === 'yum' && systemRoot(ctx) !== '/') {
    throw new Error(`variable systemRoot ${JSON.stringify(systemRoot(ctx))} works with apt and dnf; on yum hosts leave it unset (yum-utils' needs-restarting cannot look into another root)`);
  }
  const security = securityOnly(ctx) ? sh`--security` : sh``;
  return sh`listed=$(${rpmPackageManager(ctx)} -q check-update ${security}); status=$?
[ "$status" -eq 0 ] && exit 0
[ "$status" -eq 100 ] || { printf '%s\\n' "$listed" >&2; exit "$status"; }
printf '%s\\n' "$listed" | awk ${RPM_PENDING_AWK} | while read -r name new; do
  old=$(${rpmQuery(ctx)} -q --qf ${RPM_VERSION_FORMAT} "$name") || { echo "$name has an update ($new) but rpm cannot tell its installed version: $old" >&2; exit 1; }
  echo "$name $(printf '%s\\n' "$old" | tail -n 1) $new"
done`;
}

/** Prints the installed version of package $name. */
function installedVersion(ctx: StepContext): ShellCommand {
  return isApt(ctx) ? sh`dpkg-query ${dpkgRoot(ctx)} -W -f='\${Version}' "$name" 2>/dev/null` : sh`${rpmQuery(ctx)} -q --qf ${RPM_VERSION_FORMAT} "$name" 2>/dev/null | tail -n 1`;
}

/** `name old now` for every pending package whose installed version changed. */
function changedPackages(ctx: StepContext): ShellCommand {
  return sh`printf '%s\\n' ${pendingLines(ctx)} | while read -r name old new; do
  now=$(${installedVersion(ctx)})
  [ "$now" = "$old" ] || echo "$name $old $now"
done`;
}

/**
 * yes or no. needs-restarting -r exits 1 when a core package (kernel, glibc, systemd, ... and those
 * listed in /etc/dnf/plugins/needs-restarting.d/) was installed after the last boot; its report goes
 * to the step's log. Without it (no dnf-plugins-core or yum-utils), reboot to be sure.
 */
function rebootRequired(ctx: StepContext): ShellCommand {
  if (isApt(ctx)) return sh`if [ -e ${onSystem(ctx, '/var/run/reboot-required')} ]; then echo yes; else echo no; fi`;
  const [available, needsRestarting] =
    packageManager(ctx) === 'dnf'
      ? [sh`${rpmPackageManager(ctx)} -q needs-restarting --help >/dev/null 2>&1`, sh`${rpmPackageManager(ctx)} -q needs-restarting -r`]
      : [sh`command -v needs-restarting >/dev/null 2>&1`, sh`needs-restarting -r`];
  return sh`if ! ${available}; then
  echo 'needs-restarting not found (install dnf-plugins-core, or yum-utils on yum hosts); rebooting to be sure the updates are in use' >&2; echo yes
else
  ${needsRestarting} >&2; status=$?
  case $status in 0) echo no ;; 1) echo yes ;; *) echo "needs-restarting -r failed with status $status" >&2; exit 1 ;; esac
fi`;
}

/**
 * Installs the pending packages. dnf and yum exit 0 when an install scriptlet fails (rpm only
 * warns: the package is in, its setup is not); that fails the step here. Everything goes to
 * stdout, in order, so a failure's tail shows the scriptlet's own words.
 */
function rpmInstall(ctx: StepContext): ShellCommand {
  return sh`output=$(env LC_ALL=C ${rpmPackageManager(ctx)} -y ${rpmUpgrade(ctx)} ${pendingNames(ctx)} 2>&1); status=$?
printf '%s\\n' "$output"
[ "$status" -eq 0 ] || exit "$status"
failed=$(printf '%s\\n' "$output" | grep -B 1 -e 'scriptlet failed' -e 'Error in .* scriptlet')
if [ -n "$failed" ]; then
  printf 'an install scriptlet failed, so a package is installed but not set up:\\n%s\\n' "$failed"
  exit 1
fi`;
}

function confirmNothingChanged(ctx: StepContext): ShellCommand {
  const audit = isApt(ctx) ? sh`dpkg ${dpkgRoot(ctx)} --audit 2>&1 || true` : sh`true`;
  return sh`changed=$(${changedPackages(ctx)})
audit=$(${audit})
if [ -n "$changed$audit" ]; then
  echo 'packages changed and upgrades are never undone: the host stays out of the load balancer. Finish or repair the upgrade by hand (for example dpkg --configure -a), then put it back with ship restore.' >&2
  [ -z "$changed" ] || printf 'changed: %s\\n' "$changed" >&2
  [ -z "$audit" ] || printf '%s\\n' "$audit" >&2
  exit 1
fi`;
}

const varCommand = (ctx: StepContext, name: string) => {
  const text = ctx.vars[name];
  return text === undefined || text === '' ? undefined : unsafeRaw(String(text));
};

const aptInstallEnv = sh`env DEBIAN_FRONTEND=noninteractive APT_LISTCHANGES_FRONTEND=none NEEDRESTART_MODE=l`;

export default definePlaybook({
  name: 'security-patch',
  stage: [
    run(detect, { name: 'detect package manager', capture: 'packageManager' }),
    run((ctx) => aptWithLockReport(ctx, sh`${apt(ctx)} -q ${aptLock(ctx)} update`), { name: 'refresh package lists', when: isApt }),
    run(listAptPending, { name: 'list pending updates', when: isApt, capture: 'pending' }),
    run(refreshRpm, { name: 'refresh package lists', when: isRpm }),
    run(listRpmPending, { name: 'list pending updates', when: isRpm, capture: 'pending' }),
    run((ctx) => aptWithLockReport(ctx, sh`${apt(ctx)} -q -y -d ${aptLock(ctx)} install --only-upgrade ${pendingNames(ctx)}`), {
      name: 'download updates',
      when: (ctx) => isApt(ctx) && pending(ctx).length > 0,
    }),
    run((ctx) => sh`${rpmPackageManager(ctx)} -q -y ${rpmUpgrade(ctx)} --downloadonly ${pendingNames(ctx)}`, {
      name: 'download updates',
      when: (ctx) => isRpm(ctx) && pending(ctx).length > 0,
    }),
  ],
  skip: (ctx) => (pending(ctx).length === 0 ? `no pending ${securityOnly(ctx) ? 'security ' : ''}updates` : undefined),
  activate: [
    run(
      (ctx) =>
        aptWithLockReport(
          ctx,
          sh`${aptInstallEnv} ${apt(ctx)} -q -y ${aptLock(ctx)} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade ${pendingNames(ctx)}`,
        ),
      { name: 'install updates', when: isApt },
    ),
    run(rpmInstall, { name: 'install updates', when: isRpm }),
    run(changedPackages, { name: 'record upgraded packages', capture: 'upgraded' }),
    run(rebootRequired, { name: 'check whether a reboot is required', capture: 'rebootRequired' }),
    reboot({
      name: 'reboot',
      when: (ctx) => ctx.facts.rebootRequired === 'yes',
      bootId: (ctx) => varCommand(ctx, 'bootIdCommand') ?? DEFAULT_BOOT_ID_COMMAND,
      command: (ctx) => varCommand(ctx, 'rebootCommand') ?? DEFAULT_REBOOT_COMMAND,
      timeout: (ctx) => (typeof ctx.vars.rebootTimeout === 'number' ? ctx.vars.rebootTimeout : String(ctx.vars.rebootTimeout ?? '10m')),
      pollInterval: '500ms',
    }),
  ],
  rollback: [run(confirmNothingChanged, { name: 'confirm no package changed (upgrades are never undone)' })],
});
