/**
 * Shell text for the container playbooks (playbooks/deploy-container.ts, rollback-container.ts)
 * and `ship releases`: the same surface for docker and podman. Per host, ship keeps
 *   ~/.ship/containers/<name>/env       the secrets, 0600, given to the container with --env-file
 *   ~/.ship/containers/<name>/releases  "<epoch> <version>" per staged release, for listing and pruning
 * and labels the running container with its release (ship.release), so `current` is read from it.
 */
import { sh, type ShellCommand } from '../shell/sh.js';
import type { ContainerSpec, StepContext } from './define.js';

export const RELEASE_LABEL = 'ship.release';

/** Sets $E to the engine: the configured one, else docker, else podman, found on the host's PATH. */
export function engine(spec: ContainerSpec): ShellCommand {
  if (spec.engine) return sh`E=${spec.engine};`;
  return sh`if command -v docker >/dev/null 2>&1; then E=docker; elif command -v podman >/dev/null 2>&1; then E=podman; else echo 'ship: neither docker nor podman is on the PATH of this host; install one or set container.engine' >&2; exit 127; fi;`;
}

/** The host's folder for this container, `"$HOME"/...` expanded by the host's shell. */
export function containerDir(spec: ContainerSpec): ShellCommand {
  return sh`"$HOME"/.ship/containers/${spec.name}`;
}

export function imageRef(spec: ContainerSpec, version: string): string {
  return `${spec.image}:${version}`;
}

/** The container section, or an error naming what is missing (a playbook run without `container`). */
export function containerOf(ctx: StepContext): ContainerSpec {
  if (!ctx.container) throw new Error(`${ctx.host.name}: this playbook needs the config's container section`);
  return ctx.container;
}

/** Prints the running container's value of a Go template field, or nothing when there is no such container. */
export function inspectContainer(spec: ContainerSpec, format: string): ShellCommand {
  return sh`${engine(spec)} "$E" container inspect --format ${format} ${spec.name} 2>/dev/null || true`;
}

export const releaseFormat = `{{ index .Config.Labels "${RELEASE_LABEL}" }}`;

/**
 * Stops and removes the running container (within stopTimeout), then starts `image` under the
 * container's name with the env file and the run options, labelled with the release, running
 * `run.command` when set instead of the image's default; then checks
 * it runs the expected image id (when given) and is running.
 */
export function replaceContainer(ctx: StepContext, release: string, image: string, expectedId?: string): ShellCommand {
  const spec = containerOf(ctx);
  const stopSeconds = Math.max(1, Math.ceil(spec.stopTimeoutMs / 1000));
  const { run } = spec;
  const options: string[] = [
    ...(run.network ? ['--network', run.network] : []),
    ...run.ports.flatMap((p) => ['--publish', p]),
    ...run.volumes.flatMap((v) => ['--volume', v]),
    ...run.args,
  ];
  // After the image, each word quoted: the command the container runs instead of the image's own.
  const command = run.command ? sh` ${run.command}` : sh``;
  const check = expectedId
    ? sh`id=$("$E" container inspect --format '{{.Image}}' ${spec.name}); case "$id" in *${expectedId.replace(/^sha256:/, '')}*) ;; *) echo "ship: container ${spec.name} runs image $id, expected ${expectedId}" >&2; exit 1;; esac;`
    : sh``;
  return sh`set -e; ${engine(spec)}
if "$E" container inspect ${spec.name} >/dev/null 2>&1; then "$E" stop --time ${stopSeconds} ${spec.name} >/dev/null; "$E" rm --force ${spec.name} >/dev/null; fi
"$E" run --detach --name ${spec.name} --label ${`${RELEASE_LABEL}=${release}`} --label ${`ship.app=${ctx.app}`} --env-file ${containerDir(spec)}/env ${options} ${image}${command}
${check}
[ "$("$E" container inspect --format '{{.State.Running}}' ${spec.name})" = true ] || { echo ${`ship: container ${spec.name} exited right after it started:`} >&2; "$E" logs --tail 20 ${spec.name} >&2; exit 1; }`;
}

/**
 * Lists this host's releases for `ship releases`: "<epoch> <version>" for each staged release whose
 * image is still on the host (newest record of each), then `current=<release label>`.
 */
export function listContainerReleases(spec: ContainerSpec): ShellCommand {
  return sh`${engine(spec)} d=${containerDir(spec)}; [ -f "$d/releases" ] && tac "$d/releases" | awk '!seen[$2]++' | while read -r t v; do "$E" image inspect ${spec.image}:"$v" >/dev/null 2>&1 && echo "$t $v"; done; printf 'current=%s\\n' "$("$E" container inspect --format ${releaseFormat} ${spec.name} 2>/dev/null)"`;
}
