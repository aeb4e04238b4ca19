/**
 * Deploys a container image (chosen for `ship deploy` when the config has `container`):
 *   stage (while serving): remember the running container's release and image; write the
 *                          secrets to the env file (0600); log in to the registry (the password
 *                          through stdin); pull <image>:<version>, or load the archive uploaded
 *                          with --image-archive; read and print its image id; record the release
 *                          and prune the host's images to `keep`
 *   activate (while out):  stop the old container within stopTimeout, start the new one with the
 *                          env file and the run options, labelled with the release; check it runs
 *                          the image id staged
 *   rollback:              start the previous image again, the same way
 */
import { ERROR_CODES, containerDir, containerOf, definePlaybook, engine, run, sh, upload, type StepContext } from '../src/index.js';
import { rememberCurrent, startPrevious, startRelease, writeEnvFile } from './lib/container-steps.js';

const image = (ctx: StepContext) => `${containerOf(ctx).image}:${ctx.version!}`;

export default definePlaybook({
  name: 'deploy-container',
  requires: ['version'],
  stage: [
    run((ctx) => sh`mkdir -p ${containerDir(containerOf(ctx))} && cd ${containerDir(containerOf(ctx))} && pwd`, { name: 'prepare', capture: 'containerDir' }),
    ...rememberCurrent(),
    writeEnvFile(),
    run(
      (ctx) => {
        const { registry } = containerOf(ctx);
        return sh`${engine(containerOf(ctx))} "$E" login --username ${registry!.username} --password-stdin ${registry!.server}`;
      },
      {
        name: 'registry login',
        when: (ctx) => !ctx.artifact && containerOf(ctx).registry !== undefined,
        stdin: (ctx) => containerOf(ctx).registry?.password ?? '',
        code: ERROR_CODES.registryLoginFailed,
      },
    ),
    run((ctx) => sh`${engine(containerOf(ctx))} "$E" pull --quiet ${image(ctx)} >/dev/null`, {
      name: 'pull image',
      when: (ctx) => !ctx.artifact,
      code: ERROR_CODES.imagePullFailed,
    }),
    upload(
      (ctx) => ctx.artifact!,
      (ctx) => `${ctx.facts.containerDir}/${ctx.version}.tar`,
      { name: 'upload image archive', when: (ctx) => ctx.artifact !== undefined },
    ),
    run(
      (ctx) =>
        sh`set -e; ${engine(containerOf(ctx))} f=${`${ctx.facts.containerDir}/${ctx.version}.tar`}; "$E" load --input "$f" >/dev/null; rm -f "$f"; "$E" image inspect ${image(ctx)} >/dev/null 2>&1 || { echo ${`ship: the archive loaded, but holds no ${image(ctx)}; make it with: docker save ${image(ctx)} -o app.tar`} >&2; exit 1; }`,
      { name: 'load image archive', when: (ctx) => ctx.artifact !== undefined, code: ERROR_CODES.imagePullFailed },
    ),
    run((ctx) => sh`${engine(containerOf(ctx))} "$E" image inspect --format '{{.Id}}' ${image(ctx)}`, {
      name: 'verify image id',
      capture: 'imageId',
      code: ERROR_CODES.imagePullFailed,
    }),
    run(
      // Newest first; keep the new image, the running one and the newest others up to keep.
      (ctx) => {
        const spec = containerOf(ctx);
        return sh`set -e; ${engine(spec)} cd ${ctx.facts.containerDir!}; v=${ctx.version!}; cur=${ctx.facts.previousRelease ?? ''}; echo "$(date +%s) $v" >> releases
tac releases | awk '!seen[$2]++ {print $2}' | while read -r r; do [ "$r" = "$v" ] || [ "$r" = "$cur" ] || echo "$r"; done | tail -n +${spec.keep - 1} | while read -r r; do
  "$E" rmi ${spec.image}:"$r" >/dev/null 2>&1 || true; awk -v r="$r" '$2 != r' releases > releases.next; mv -f releases.next releases; echo "pruned $r"
done`;
      },
      { name: 'prune old images' },
    ),
  ],
  activate: [startRelease()],
  rollback: startPrevious(),
});
