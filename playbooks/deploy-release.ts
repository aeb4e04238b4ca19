/**
 * Deploys a release tarball:
 *   stage (while serving): upload to <appDir>/releases/<version>.tgz, unpack into releases/<version>,
 *                           remember the current release, prune old releases
 *   activate (while out):  switch <appDir>/current atomically, run the `restart` command
 *   rollback:              switch back to the remembered release, restart
 * Variables: appDir (required), restart (required; shell text from the config, run as written),
 * keepReleases (default 5).
 */
import { definePlaybook, run, sh, upload, type StepContext } from '../src/index.js';
import { currentLink, releasesDir, restart, switchBack, switchToRelease } from './lib/release-layout.js';

const keepReleases = (ctx: StepContext) => Math.max(2, Number(ctx.vars.keepReleases ?? 5));

export default definePlaybook({
  name: 'deploy-release',
  requires: ['version', 'artifact'],
  requiredVars: ['appDir', 'restart'],
  stage: [
    run((ctx) => sh`mkdir -p ${releasesDir(ctx)} && { readlink ${currentLink(ctx)} || true; }`, { name: 'remember current release', capture: 'previousRelease' }),
    upload(
      (ctx) => ctx.artifact!,
      (ctx) => `${releasesDir(ctx)}/${ctx.version}.tgz`,
      { name: 'upload artifact' },
    ),
    run(
      (ctx) =>
        sh`set -e; cd ${releasesDir(ctx)}; v=${ctx.version!}; rm -rf "$v.unpack"; mkdir "$v.unpack"; tar -xzf "$v.tgz" -C "$v.unpack"; rm -rf "$v"; mv "$v.unpack" "$v"; rm -f "$v.tgz"`,
      { name: 'unpack release' },
    ),
    run(
      // Newest first; keep the new release, the current one and the newest others up to keepReleases.
      (ctx) =>
        sh`cd ${releasesDir(ctx)} && v=${ctx.version!} && current=$(basename "$(readlink ${currentLink(ctx)} || echo none)") && ls -1t | grep -v -e '[.]tgz$' -e '[.]unpack$' | while read -r r; do [ "$r" = "$v" ] || [ "$r" = "$current" ] || echo "$r"; done | tail -n +${keepReleases(ctx) - 1} | while read -r r; do rm -rf -- "$r"; done`,
      { name: 'prune old releases' },
    ),
  ],
  activate: [switchToRelease(), restart()],
  rollback: switchBack(),
});
