/**
 * Steps shared by deploy-container and rollback-container (the layout is described in
 * src/playbook/container.ts).
 */
import { ERROR_CODES, containerDir, containerOf, inspectContainer, releaseFormat, replaceContainer, run, sh, writeSecretsFile, type StepContext } from '../../src/index.js';

/** Captured in stage: the release label and the image id of the container running now, for the rollback. */
export const rememberCurrent = () => [
  run((ctx) => inspectContainer(containerOf(ctx), releaseFormat), { name: 'remember current release', capture: 'previousRelease' }),
  run((ctx) => inspectContainer(containerOf(ctx), '{{.Image}}'), { name: 'remember current image', capture: 'previousImage' }),
];

/** The secrets, 0600, in the file the container gets with --env-file (written even when there are none, so the file exists). */
export const writeEnvFile = () => writeSecretsFile((ctx) => sh`${containerDir(containerOf(ctx))}/env`, { name: 'write env file' });

/** Stops the old container within stopTimeout and starts the new one: while the instance is out. */
export const startRelease = () =>
  run((ctx) => replaceContainer(ctx, ctx.version!, `${containerOf(ctx).image}:${ctx.version!}`, ctx.facts.imageId), {
    name: 'replace container',
    code: ERROR_CODES.containerStartFailed,
  });

/** Starts the image that ran before (by id, so a pruned or moved tag cannot change it). */
export const startPrevious = () => [
  run(
    (ctx: StepContext) => {
      const image = ctx.facts.previousImage;
      if (!image) return sh`echo 'no previous container to go back to on this host' >&2; exit 1`;
      return replaceContainer(ctx, ctx.facts.previousRelease || 'unknown', image);
    },
    { name: 'start previous image' },
  ),
];
