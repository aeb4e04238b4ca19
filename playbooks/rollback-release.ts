/**
 * Switches a host back to a release it already has (the layout of deploy-release.ts):
 *   stage (while serving): remember the current release; check that releases/<version> is there
 *   activate (while out):  switch <appDir>/current to it atomically, run the `restart` command
 *   rollback:              switch back to the remembered release, restart
 * Variables: appDir and restart, as for deploy-release. `ship rollback` picks the version.
 */
import { definePlaybook, requireVar, run, sh, unsafeRaw, type StepContext } from '../src/index.js';

const appDir = (ctx: StepContext) => requireVar(ctx, 'appDir');
const releaseDir = (ctx: StepContext) => `${appDir(ctx)}/releases/${ctx.version}`;
const currentLink = (ctx: StepContext) => `${appDir(ctx)}/current`;

/** ln + mv -T replaces the link in one rename(2): no moment without a `current`. */
function switchTo(target: string, link: string) {
  return sh`ln -sfn ${target} ${link}.next && mv -Tf ${link}.next ${link}`;
}

export default definePlaybook({
  name: 'rollback-release',
  requires: ['version'],
  requiredVars: ['appDir', 'restart'],
  stage: [
    run((ctx) => sh`readlink ${currentLink(ctx)} || true`, { name: 'remember current release', capture: 'previousRelease' }),
    run((ctx) => sh`[ -d ${releaseDir(ctx)} ] || { echo ${`release ${ctx.version} is not on this host (no ${releaseDir(ctx)})`} >&2; exit 1; }`, {
      name: 'check the release is there',
    }),
  ],
  activate: [
    run((ctx) => switchTo(releaseDir(ctx), currentLink(ctx)), { name: 'switch current' }),
    run((ctx) => unsafeRaw(requireVar(ctx, 'restart')), { name: 'restart' }),
  ],
  rollback: [
    run(
      (ctx) => {
        const previous = ctx.facts.previousRelease;
        if (!previous) return sh`echo 'no previous release to switch back to' >&2; exit 1`;
        return switchTo(previous, currentLink(ctx));
      },
      { name: 'switch back' },
    ),
    run((ctx) => unsafeRaw(requireVar(ctx, 'restart')), { name: 'restart' }),
  ],
});
