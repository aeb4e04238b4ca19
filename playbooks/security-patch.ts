/**
 * OS security updates, one batch at a time, for Debian/Ubuntu (apt) and RHEL-family (dnf, yum)
 * hosts. The package manager is detected per host; each step asks the host's manager record
 * (playbooks/lib/apt.ts, playbooks/lib/rpm.ts) for its command. A new manager is a record of its
 * own, one line in PACKAGE_MANAGERS below, and its tests.
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
import { apt } from './lib/apt.js';
import type { PackageManager } from './lib/package-manager.js';
import { checkPackageNames, securityOnly } from './lib/package-manager.js';
import { dnf, yum } from './lib/rpm.js';

/** In the order detection tries them. */
const PACKAGE_MANAGERS: readonly PackageManager[] = [apt, dnf, yum];

const names = PACKAGE_MANAGERS.map((manager) => manager.name);

/** The record of the manager detected (or chosen) in stage. */
function manager(ctx: StepContext): PackageManager {
  const name = ctx.facts.packageManager;
  const found = PACKAGE_MANAGERS.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`fact packageManager is ${JSON.stringify(name)}; ship patch knows ${names.join(', ')}`);
  return found;
}

/** `name old new` lines from stage. */
function pending(ctx: StepContext): string[][] {
  return (ctx.facts.pending ?? '')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length === 3);
}

/** The pending packages' names, checked before any reaches a package tool. */
const pendingNames = (ctx: StepContext) =>
  checkPackageNames(
    ctx,
    pending(ctx).map(([name]) => name!),
  );
const pendingLines = (ctx: StepContext) => pending(ctx).map((fields) => fields.join(' '));

function inWords(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

const NONE_FOUND = `no supported package manager on this host: ship patch needs ${inWords(PACKAGE_MANAGERS.map((m) => m.requirement))}; set vars.packageManager if it is installed off the PATH`;

/** Prints the name of the first manager present on the host. */
const DETECT = sh`${PACKAGE_MANAGERS.map((m, i) => sh`${i === 0 ? sh`if` : sh`elif`} ${m.present}; then echo ${m.name};`)} else echo ${NONE_FOUND} >&2; exit 1; fi`;

function detect(ctx: StepContext): ShellCommand {
  const chosen = ctx.vars.packageManager;
  if (chosen === undefined || chosen === '') return DETECT;
  if (!names.includes(String(chosen))) {
    throw new Error(`variable packageManager is ${JSON.stringify(chosen)}; ship patch knows ${names.join(', ')}`);
  }
  return sh`echo ${String(chosen)}`;
}

/** `name old now` for every pending package whose installed version changed. */
function changedPackages(ctx: StepContext): ShellCommand {
  return sh`printf '%s\\n' ${pendingLines(ctx)} | while read -r name old new; do
  now=$(${manager(ctx).installedVersion(ctx)})
  [ "$now" = "$old" ] || echo "$name $old $now"
done`;
}

function confirmNothingChanged(ctx: StepContext): ShellCommand {
  return sh`changed=$(${changedPackages(ctx)})
audit=$(${manager(ctx).audit(ctx)})
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

export default definePlaybook({
  name: 'security-patch',
  stage: [
    run(detect, { name: 'detect package manager', capture: 'packageManager' }),
    run((ctx) => manager(ctx).refresh(ctx), { name: 'refresh package lists' }),
    run((ctx) => manager(ctx).listPending(ctx), { name: 'list pending updates', capture: 'pending' }),
    run((ctx) => manager(ctx).download(ctx, pendingNames(ctx)), { name: 'download updates', when: (ctx) => pending(ctx).length > 0 }),
  ],
  skip: (ctx) => (pending(ctx).length === 0 ? `no pending ${securityOnly(ctx) ? 'security ' : ''}updates` : undefined),
  activate: [
    run((ctx) => manager(ctx).install(ctx, pendingNames(ctx)), { name: 'install updates' }),
    run(changedPackages, { name: 'record upgraded packages', capture: 'upgraded' }),
    run((ctx) => manager(ctx).rebootRequired(ctx), { name: 'check whether a reboot is required', capture: 'rebootRequired' }),
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
