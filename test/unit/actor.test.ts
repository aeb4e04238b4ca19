import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ciJob, currentActor } from '../../src/journal/actor.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ship-actor-'));
  dirs.push(dir);
  return dir;
}

test("ciJob names the CI system and job from each system's own variables", () => {
  assert.equal(
    ciJob({ CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'shop/web', GITHUB_RUN_ID: '1234', GITHUB_RUN_ATTEMPT: '2', GITHUB_JOB: 'deploy', GITHUB_ACTOR: 'alice' }),
    'github-actions shop/web run 1234 attempt 2 job deploy by alice',
  );
  assert.equal(ciJob({ GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'shop/web', GITHUB_RUN_ID: '7', GITHUB_RUN_ATTEMPT: '1' }), 'github-actions shop/web run 7');
  assert.equal(
    ciJob({ GITLAB_CI: 'true', CI_PROJECT_PATH: 'shop/web', CI_PIPELINE_ID: '88', CI_JOB_ID: '99', CI_JOB_NAME: 'deploy prod', GITLAB_USER_LOGIN: 'bob' }),
    'gitlab-ci shop/web pipeline 88 job 99 (deploy prod) by bob',
  );
  assert.equal(
    ciJob({ CIRCLECI: 'true', CIRCLE_PROJECT_USERNAME: 'shop', CIRCLE_PROJECT_REPONAME: 'web', CIRCLE_BUILD_NUM: '5', CIRCLE_JOB: 'deploy', CIRCLE_USERNAME: 'carol' }),
    'circleci shop/web build 5 job deploy by carol',
  );
  assert.equal(
    ciJob({ BUILDKITE: 'true', BUILDKITE_PIPELINE_SLUG: 'web', BUILDKITE_BUILD_NUMBER: '12', BUILDKITE_JOB_ID: 'abc-def', BUILDKITE_BUILD_CREATOR: 'Dan' }),
    'buildkite web build 12 job abc-def by Dan',
  );
  assert.equal(ciJob({ JENKINS_URL: 'https://user:token@jenkins.example/', JOB_NAME: 'web/deploy', BUILD_NUMBER: '31' }), 'jenkins web/deploy build 31');
  assert.equal(ciJob({ CI: 'true' }), 'ci');
  assert.equal(ciJob({ CI: 'false' }), undefined);
  assert.equal(ciJob({}), undefined);
});

test('values from the environment cannot forge extra lines', () => {
  const job = ciJob({ GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'shop/web\nlocked by root@prod', GITHUB_RUN_ID: '1\r\n\u001b[2J' });
  assert.equal(job, 'github-actions shop/web locked by root@prod run 1 [2J');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is what must be gone
  assert.doesNotMatch(job!, /[\n\r\u001b]/);
});

test("currentActor: OS user, the repository's git user, the CI job and the machine", async () => {
  const home = await tempDir();
  const repo = await tempDir();
  const env = { PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: '1', USER: 'someone' };
  await execa('git', ['init', '-q', repo], { env, extendEnv: false });
  await execa('git', ['config', 'user.email', 'alice@example.com'], { cwd: repo, env, extendEnv: false });
  const inCi = await currentActor({ cwd: repo, env: { ...env, GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'shop/web', GITHUB_RUN_ID: '42' } });
  assert.equal(inCi.gitUser, 'alice@example.com');
  assert.equal(inCi.ci, 'github-actions shop/web run 42');
  assert.equal(inCi.hostname, hostname());
  assert.ok(inCi.osUser.length > 0);

  // No email: the name will do; no git user at all, and not in CI: both left out.
  await execa('git', ['config', '--unset', 'user.email'], { cwd: repo, env, extendEnv: false });
  await execa('git', ['config', 'user.name', 'Alice Liddell'], { cwd: repo, env, extendEnv: false });
  assert.equal((await currentActor({ cwd: repo, env })).gitUser, 'Alice Liddell');
  const nowhere = await currentActor({ cwd: await tempDir(), env });
  assert.equal(nowhere.gitUser, undefined);
  assert.equal(nowhere.ci, undefined);
  assert.deepEqual(Object.keys(nowhere).sort(), ['hostname', 'osUser']);
});

test('currentActor does without git when it is missing', async () => {
  const actor = await currentActor({ cwd: await tempDir(), env: { PATH: '/nonexistent' } });
  assert.equal(actor.gitUser, undefined);
  assert.equal(actor.hostname, hostname());
});
