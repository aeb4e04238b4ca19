/**
 * RHEL-family hosts: dnf and yum for updates, rpm for what is installed. The two share their
 * output formats and most of their options; each record below states where they differ.
 * rpm keeps changed configuration files by itself (writing .rpmnew/.rpmsave).
 */
import { sh, type ShellCommand, type StepContext } from '../../src/index.js';
import { securityOnly, systemRoot, type PackageManager } from './package-manager.js';

interface RpmFlavour {
  name: string;
  requirement: string;
  /** Arguments that forget the cached repository metadata, so the listing sees updates published since (dnf keeps it 48 hours by default). */
  refresh: ShellCommand;
  /** Arguments that upgrade the named packages. */
  upgrade: ShellCommand;
  /** How to ask `needs-restarting -r`, and how to tell whether it is installed; `cli` is the manager pointed at the system root. */
  needsRestarting(cli: ShellCommand): { available: ShellCommand; run: ShellCommand };
  /** Whether vars.systemRoot may name another root than '/'. */
  otherRoots: boolean;
}

/** `[epoch:]version-release`, the way dnf and yum print versions. */
const VERSION_FORMAT = '%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n';

/**
 * Reads `check-update` output: `name.arch [epoch:]version-release repo` per update, exit status 100
 * when there are any. yum puts a name too long for its column on a line of its own, with the
 * version and repository on the next; `Obsoleting Packages` ends the list; a package with more
 * than one architecture (multilib) is listed once. It reads to the end rather than `exit`: under
 * pipefail, a writer cut off early (SIGPIPE) would fail the step.
 */
const PENDING_AWK = `/^Obsoleting/ { obsoleting = 1 }
obsoleting { next }
NF == 1 && $1 ~ /\\./ { held = $1; next }
held != "" && NF == 2 { $0 = held " " $0 }
{ held = "" }
NF == 3 && $1 ~ /\\./ { name = $1; sub(/\\.[^.]*$/, "", name); if (!seen[name]++) print name, $2 }`;

const rpmQuery = (ctx: StepContext) => (systemRoot(ctx) === '/' ? sh`rpm` : sh`rpm --root=${systemRoot(ctx)}`);

function rpmPackageManager(flavour: RpmFlavour): PackageManager {
  /** The manager pointed at systemRoot (an installroot brings its own configuration, repositories and cache). */
  const cli = (ctx: StepContext) => (systemRoot(ctx) === '/' ? sh`${flavour.name}` : sh`${flavour.name} --installroot=${systemRoot(ctx)}`);
  return {
    name: flavour.name,
    requirement: flavour.requirement,
    present: sh`command -v ${flavour.name} >/dev/null 2>&1`,
    refresh: (ctx) => sh`${cli(ctx)} ${flavour.refresh}`,
    listPending(ctx) {
      if (!flavour.otherRoots && systemRoot(ctx) !== '/') {
        throw new Error(
          `variable systemRoot ${JSON.stringify(systemRoot(ctx))} works with apt and dnf; on ${flavour.name} hosts leave it unset (yum-utils' needs-restarting cannot look into another root)`,
        );
      }
      const security = securityOnly(ctx) ? sh`--security` : sh``;
      return sh`listed=$(${cli(ctx)} -q check-update ${security}); status=$?
[ "$status" -eq 0 ] && exit 0
[ "$status" -eq 100 ] || { printf '%s\\n' "$listed" >&2; exit "$status"; }
printf '%s\\n' "$listed" | awk ${PENDING_AWK} | while read -r name new; do
  old=$(${rpmQuery(ctx)} -q --qf ${VERSION_FORMAT} -- "$name") || { echo "$name has an update ($new) but rpm cannot tell its installed version: $old" >&2; exit 1; }
  echo "$name $(printf '%s\\n' "$old" | tail -n 1) $new"
done`;
    },
    download: (ctx, names) => sh`${cli(ctx)} -q -y ${flavour.upgrade} --downloadonly -- ${names}`,
    /**
     * dnf and yum exit 0 when an install scriptlet fails (rpm only warns: the package is in, its
     * setup is not); that fails the step here. Everything goes to stdout, in order, so a failure's
     * tail shows the scriptlet's own words.
     */
    install: (ctx, names) => sh`output=$(env LC_ALL=C ${cli(ctx)} -y ${flavour.upgrade} -- ${names} 2>&1); status=$?
printf '%s\\n' "$output"
[ "$status" -eq 0 ] || exit "$status"
failed=$(printf '%s\\n' "$output" | grep -B 1 -e 'scriptlet failed' -e 'Error in .* scriptlet')
if [ -n "$failed" ]; then
  printf 'an install scriptlet failed, so a package is installed but not set up:\\n%s\\n' "$failed"
  exit 1
fi`,
    installedVersion: (ctx) => sh`${rpmQuery(ctx)} -q --qf ${VERSION_FORMAT} -- "$name" 2>/dev/null | tail -n 1`,
    /**
     * needs-restarting -r exits 1 when a core package (kernel, glibc, systemd, ... and those listed
     * in /etc/dnf/plugins/needs-restarting.d/) was installed after the last boot; its report goes
     * to the step's log. Without it (no dnf-plugins-core or yum-utils), reboot to be sure.
     */
    rebootRequired(ctx) {
      const { available, run } = flavour.needsRestarting(cli(ctx));
      return sh`if ! ${available}; then
  echo 'needs-restarting not found (install dnf-plugins-core, or yum-utils on yum hosts); rebooting to be sure the updates are in use' >&2; echo yes
else
  ${run} >&2; status=$?
  case $status in 0) echo no ;; 1) echo yes ;; *) echo "needs-restarting -r failed with status $status" >&2; exit 1 ;; esac
fi`;
    },
    // rpm has no half-configured state to report: a failed scriptlet already failed the install.
    audit: () => sh`true`,
  };
}

export const dnf = rpmPackageManager({
  name: 'dnf',
  requirement: 'dnf (Fedora, RHEL 8 and later)',
  refresh: sh`-q makecache --refresh`,
  // --best: the newest version or a failure, instead of quietly skipping one it cannot install.
  upgrade: sh`upgrade --best`,
  needsRestarting: (cli) => ({ available: sh`${cli} -q needs-restarting --help >/dev/null 2>&1`, run: sh`${cli} -q needs-restarting -r` }),
  otherRoots: true,
});

export const yum = rpmPackageManager({
  name: 'yum',
  requirement: 'yum (RHEL and CentOS 7)',
  refresh: sh`-q clean expire-cache`,
  upgrade: sh`update`,
  // yum-utils' needs-restarting is a program of its own, and cannot look into another root.
  needsRestarting: () => ({ available: sh`command -v needs-restarting >/dev/null 2>&1`, run: sh`needs-restarting -r` }),
  otherRoots: false,
});
