/**
 * Deploys a release tarball:
 *   stage (while serving): upload to <appDir>/releases/<version>.tgz, unpack into releases/<version>,
 *                           remember the current release, prune old releases; with the config's
 *                           `secrets`, write them to <appDir>/shared/.env (0600, through stdin)
 *                           and link releases/<version>/.env to it
 *   activate (while out):  switch <appDir>/current atomically, run the `restart` command
 *   rollback:              switch back to the remembered release, restart
 * Variables: appDir (required), restart (required; shell text from the config, run as written),
 * keepReleases (default 5: a whole number, at least 2, since the new release and the one it
 * replaces are always kept).
 */
import { definePlaybook, run, sh, upload, writeSecretsFile, type StepContext, type VarCheck } from '../src/index.js';
import { appDir, currentLink, releaseDir, releasesDir, restart, switchBack, switchToRelease } from './lib/release-layout.js';

const DEFAULT_KEEP_RELEASES = 5;

/** A value such as 2.5 or 'five' used to reach `tail -n +x` on the host, fail there unseen, and stop pruning. */
const keepReleasesProblem: VarCheck = (value) =>
  /^\d+$/.test(String(value).trim()) && Number(value) >= 2 ? undefined : 'expected a whole number of releases to keep, at least 2 (the new one and the one it replaces)';

const hasSecrets = (ctx: StepContext) => Object.keys(ctx.secrets ?? {}).length > 0;

function keepReleases(ctx: StepContext): number {
  const value = ctx.vars.keepReleases ?? DEFAULT_KEEP_RELEASES;
  const problem = keepReleasesProblem(value);
  if (problem) throw new Error(`variable keepReleases is ${JSON.stringify(value)}: ${problem}`);
  return Number(value);
}

export default definePlaybook({
  name: 'deploy-release',
  requires: ['version', 'artifact'],
  requiredVars: ['appDir', 'restart'],
  varChecks: { keepReleases: keepReleasesProblem },
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
    writeSecretsFile((ctx) => sh`${appDir(ctx)}/shared/.env`, { name: 'write secrets', when: hasSecrets }),
    run((ctx) => sh`ln -sfn ../../shared/.env ${`${releaseDir(ctx)}/.env`}`, { name: 'link secrets', when: hasSecrets }),
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
