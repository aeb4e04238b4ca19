/**
 * Quieting an instance before it is restarted (the config's `quiet`): a worker serves no
 * load-balancer traffic, so nothing is drained; instead it is told to stop taking new work, and
 * ship waits until it says it is idle (or `wait` passes) before activate restarts it. A pure
 * transform of the playbook: two steps put first in `activate` and `rollback` (not in
 * `gracefulReload`, which keeps the instance serving), built here as text so they are tested by
 * comparing strings.
 *
 *   quiet: send <signal> ...  the signal to the container (`<engine> kill --signal`), or to the
 *                             pid in `pidFile`; or the config's `command`, run as written. A
 *                             worker that is not running has nothing to quiet: said, not failed.
 *   quiet: wait ...           polls `idleCommand` on the host every second until it exits 0; then,
 *                             or when `wait` passes (said on stderr), activate goes on. Without
 *                             idleCommand the whole `wait` is waited: the time running jobs get.
 *                             Ends early when the worker is no longer running (nothing left to finish).
 */
import type { QuietConfig } from '../config/quiet.js';
import { sh, unsafeRaw, type ShellCommand } from '../shell/sh.js';
import { MAX_DURATION_MS } from '../util/duration.js';
import { engine } from './container.js';
import { run, type ContainerSpec, type Playbook, type RunStep } from './define.js';

/** Between polls of idleCommand (and of whether the worker still runs). */
const POLL_SECONDS = 1;
/** The wait step's own timeout is `wait` plus this: room for the engine and a last slow poll. */
const WAIT_STEP_MARGIN_MS = 30_000;

/**
 * The playbook with the quiet steps first in activate, and first in rollback: a failed verify
 * restarts the new worker, which may already have taken jobs.
 */
export function withQuiet(playbook: Playbook, quiet: QuietConfig, container?: ContainerSpec): Playbook {
  const steps = quietSteps(quiet, container);
  return { ...playbook, activate: [...steps, ...playbook.activate], ...(playbook.rollback.length > 0 ? { rollback: [...steps, ...playbook.rollback] } : {}) };
}

export function quietSteps(quiet: QuietConfig, container?: ContainerSpec): RunStep[] {
  const seconds = waitSeconds(quiet);
  return [
    run(signalCommand(quiet, container), { name: signalStepName(quiet, container) }),
    run(waitCommand(quiet, container), {
      name: quiet.idleCommand ? `quiet: wait until idle (up to ${seconds}s)` : `quiet: wait ${seconds}s`,
      timeout: Math.min(MAX_DURATION_MS, seconds * 1000 + WAIT_STEP_MARGIN_MS),
    }),
  ];
}

/** `wait` in whole seconds, rounded up: the host's clock is read with `date +%s`. */
function waitSeconds(quiet: QuietConfig): number {
  return Math.ceil(quiet.wait / 1000);
}

/** Where the signal goes, in the order the config is read: the team's command, else the pid file, else the container. */
type Delivery = { kind: 'command'; command: string } | { kind: 'pidFile'; pidFile: string } | { kind: 'container'; spec: ContainerSpec };

function deliveryOf(quiet: QuietConfig, container: ContainerSpec | undefined): Delivery {
  if (quiet.command !== undefined) return { kind: 'command', command: quiet.command };
  if (quiet.pidFile !== undefined) return { kind: 'pidFile', pidFile: quiet.pidFile };
  // The config refuses quiet with neither (src/config/schema.ts); a playbook test may still call this.
  if (!container) throw new Error('quiet: set pidFile or command, or run a container, to say where the signal goes');
  return { kind: 'container', spec: container };
}

function signalStepName(quiet: QuietConfig, container: ContainerSpec | undefined): string {
  const delivery = deliveryOf(quiet, container);
  switch (delivery.kind) {
    case 'command':
      return 'quiet: run quiet.command';
    case 'pidFile':
      return `quiet: send ${quiet.signal} to the pid in ${delivery.pidFile}`;
    case 'container':
      return `quiet: send ${quiet.signal} to container ${delivery.spec.name}`;
  }
}

/** The pid file on the host, quoted; a leading `~/` is the home of the user the steps run as. */
export function pidFilePath(pidFile: string): ShellCommand {
  return pidFile.startsWith('~/') ? sh`"$HOME"/${pidFile.slice(2)}` : sh`${pidFile}`;
}

/** True (exit 0) while process $1 exists; /proc first, so a process of another user counts too. */
const ALIVE = sh`alive() { [ -d "/proc/$1" ] || kill -0 "$1" 2>/dev/null; };`;

function containerRunning(spec: ContainerSpec): ShellCommand {
  return sh`[ "$("$E" container inspect --format '{{.State.Running}}' ${spec.name} 2>/dev/null)" = true ]`;
}

export function signalCommand(quiet: QuietConfig, container?: ContainerSpec): ShellCommand {
  const delivery = deliveryOf(quiet, container);
  const { signal } = quiet;
  switch (delivery.kind) {
    case 'command':
      // Shell text from the config, run as written (like the deploy-release playbook's `restart`).
      return unsafeRaw(delivery.command);
    case 'pidFile': {
      const file = delivery.pidFile;
      return sh`${ALIVE} f=${pidFilePath(file)}
if [ ! -f "$f" ]; then echo ${`ship: quiet: no pid file ${file}: the worker is not running, nothing to quiet`}; exit 0; fi
pid=$(tr -d ' \\t\\r\\n' < "$f")
case "$pid" in ''|*[!0-9]*) echo ${`ship: quiet: ${file} holds no pid (found:`} "$pid)" >&2; exit 1;; esac
if ! alive "$pid"; then echo ${`ship: quiet: process`} "$pid" ${`from ${file} is not running: nothing to quiet`}; exit 0; fi
kill -s ${signal} "$pid" || { echo ${`ship: quiet: could not send ${signal} to process`} "$pid" ${`from ${file} (another user's? see ssh.sudo)`} >&2; exit 1; }
echo ${`ship: quiet: sent ${signal} to process`} "$pid"`;
    }
    case 'container': {
      const { spec } = delivery;
      return sh`${engine(spec)}
if ! ${containerRunning(spec)}; then echo ${`ship: quiet: container ${spec.name} is not running: nothing to quiet`}; exit 0; fi
"$E" kill --signal ${signal} ${spec.name} >/dev/null || exit 1
echo ${`ship: quiet: sent ${signal} to container ${spec.name}`}`;
    }
  }
}

/**
 * One command on the host: every second, is the worker gone (nothing left to finish), is it
 * idle (idleCommand exits 0)? Until `wait` passes, which without idleCommand is the plan, and
 * with it is said on stderr: the worker is restarted anyway, its own shutdown handles the rest.
 * An idleCommand that cannot run (exit 126 or 127) fails the step rather than cost every host
 * the whole wait.
 */
export function waitCommand(quiet: QuietConfig, container?: ContainerSpec): ShellCommand {
  const delivery = deliveryOf(quiet, container);
  const seconds = waitSeconds(quiet);
  // Whether the worker still runs, where ship knows how to ask: a worker that has gone has nothing left to finish.
  const setup =
    delivery.kind === 'pidFile'
      ? sh`${ALIVE} pid=$(tr -d ' \\t\\r\\n' 2>/dev/null < ${pidFilePath(delivery.pidFile)})
gone() { [ -z "$pid" ] || ! alive "$pid"; }
`
      : delivery.kind === 'container'
        ? sh`${engine(delivery.spec)}
gone() { ! ${containerRunning(delivery.spec)}; }
`
        : sh``;
  const what = delivery.kind === 'container' ? `container ${delivery.spec.name}` : 'the worker';
  const gone =
    delivery.kind === 'command'
      ? sh``
      : sh`  if gone; then echo ${`ship: quiet: ${what} is not running: nothing to wait for`}; exit 0; fi
`;
  const idle = quiet.idleCommand
    ? sh`  if out=$(sh -c ${quiet.idleCommand} 2>&1); then echo ${'ship: quiet: idle after'} "$(( $(date +%s) - start ))s"; exit 0; else s=$?; fi
  if [ "$s" -eq 126 ] || [ "$s" -eq 127 ]; then echo ${'ship: quiet: idleCommand could not run (exit'} "$s):" >&2; printf '%s\\n' "$out" | tail -n 5 >&2; exit 1; fi
`
    : sh``;
  const timedOut = quiet.idleCommand
    ? sh`echo ${`ship: quiet: not idle after ${seconds}s; restarting anyway (the app's own shutdown handles the jobs still running)`} >&2
[ -z "$out" ] || { echo ${'ship: quiet: idleCommand last said:'} >&2; printf '%s\\n' "$out" | tail -n 5 >&2; }`
    : sh`echo ${`ship: quiet: waited ${seconds}s`}`;
  return sh`${setup}start=$(date +%s); end=$((start + ${seconds}))
while :; do
${gone}${idle}  [ "$(date +%s)" -lt "$end" ] || break
  sleep ${POLL_SECONDS}
done
${timedOut}`;
}
