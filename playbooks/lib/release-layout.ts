/**
 * The release layout shared by deploy-release and rollback-release:
 *   <appDir>/releases/<version>/   unpacked releases
 *   <appDir>/current -> releases/<version>
 * and the steps both use to switch `current` and to go back after a failure.
 */
import { requireVar, run, sh, unsafeRaw, type StepContext } from '../../src/index.js';

export const appDir = (ctx: StepContext) => requireVar(ctx, 'appDir');
export const releasesDir = (ctx: StepContext) => `${appDir(ctx)}/releases`;
export const releaseDir = (ctx: StepContext) => `${releasesDir(ctx)}/${ctx.version}`;
export const currentLink = (ctx: StepContext) => `${appDir(ctx)}/current`;

/** ln + mv -T replaces the link in one rename(2): no moment without a `current`. */
export function switchTo(target: string, link: string) {
  return sh`ln -sfn ${target} ${link}.next && mv -Tf ${link}.next ${link}`;
}

/** Captured in stage as `previousRelease`, for the rollback. */
export const rememberCurrent = (name = 'remember current release') => run((ctx) => sh`readlink ${currentLink(ctx)} || true`, { name, capture: 'previousRelease' });

/** The `restart` variable: shell text the config's author wrote, run as written. */
export const restart = () => run((ctx) => unsafeRaw(requireVar(ctx, 'restart')), { name: 'restart' });

export const switchToRelease = () => run((ctx) => switchTo(releaseDir(ctx), currentLink(ctx)), { name: 'switch current' });

/** Back to the release remembered in stage, then restart. */
export const switchBack = () => [
  run(
    (ctx) => {
      const previous = ctx.facts.previousRelease;
      if (!previous) return sh`echo 'no previous release to switch back to' >&2; exit 1`;
      return switchTo(previous, currentLink(ctx));
    },
    { name: 'switch back' },
  ),
  restart(),
];
