/**
 * Switches a host back to a release it already has (the layout of deploy-release.ts):
 *   stage (while serving): remember the current release; check that releases/<version> is there
 *   activate (while out):  switch <appDir>/current to it atomically, run the `restart` command
 *   rollback:              switch back to the remembered release, restart
 * Variables: appDir and restart, as for deploy-release. `ship rollback` picks the version.
 */
import { definePlaybook, run, sh } from '../src/index.js';
import { releaseDir, rememberCurrent, restart, switchBack, switchToRelease } from './lib/release-layout.js';

export default definePlaybook({
  name: 'rollback-release',
  requires: ['version'],
  requiredVars: ['appDir', 'restart'],
  stage: [
    rememberCurrent(),
    run((ctx) => sh`[ -d ${releaseDir(ctx)} ] || { echo ${`release ${ctx.version} is not on this host (no ${releaseDir(ctx)})`} >&2; exit 1; }`, {
      name: 'check the release is there',
    }),
  ],
  activate: [switchToRelease(), restart()],
  rollback: switchBack(),
});
