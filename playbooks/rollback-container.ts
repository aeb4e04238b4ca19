/**
 * Switches a host back to a container image it already has (`ship rollback` when the config has
 * `container`; the layout of deploy-container.ts):
 *   stage (while serving): remember the running container; check <image>:<version> is on the host
 *                          and read its id; write the env file with this run's secrets
 *   activate (while out):  stop the running container within stopTimeout, start that image
 *   rollback:              start the image that ran before, again
 */
import { ERROR_CODES, containerDir, containerOf, definePlaybook, engine, run, sh } from '../src/index.js';
import { rememberCurrent, startPrevious, startRelease, writeEnvFile } from './lib/container-steps.js';

export default definePlaybook({
  name: 'rollback-container',
  requires: ['version'],
  stage: [
    run((ctx) => sh`mkdir -p ${containerDir(containerOf(ctx))} && cd ${containerDir(containerOf(ctx))} && pwd`, { name: 'prepare', capture: 'containerDir' }),
    ...rememberCurrent(),
    run(
      (ctx) => {
        const image = `${containerOf(ctx).image}:${ctx.version!}`;
        return sh`${engine(containerOf(ctx))} "$E" image inspect --format '{{.Id}}' ${image} 2>/dev/null || { echo ${`image ${image} is not on this host (pruned, or never pulled here)`} >&2; exit 1; }`;
      },
      { name: 'check the image is there', capture: 'imageId', code: ERROR_CODES.containerImageMissing },
    ),
    writeEnvFile(),
  ],
  activate: [startRelease()],
  rollback: startPrevious(),
});
