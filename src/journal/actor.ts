/**
 * Who is running ship, for the journal and the deploy lock: a refused deploy must be able to say
 * "locked by alice@laptop (alice@example.com)" or "in github-actions shop/web run 1234", so the
 * person refused knows whom to ask.
 */
import { hostname, userInfo } from 'node:os';

/** Who started a run or holds a lock, as the journal records it. */
export interface Actor {
  /** OS user running ship. */
  osUser: string;
  /** `git config user.email` (or name) where available. */
  gitUser?: string;
  /** CI system and job, e.g. 'github-actions run 1234', when run in CI. */
  ci?: string;
  /** Machine name. */
  hostname: string;
}

export interface ActorOptions {
  /** Where `git config` is read (the repository's own user settings win); default: the current folder. */
  cwd?: string;
  /** The environment to read CI variables from and run git in; default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** `git config` must never hold up a deploy: give up on it after this long. */
  gitTimeoutMs?: number;
}

const DEFAULT_GIT_TIMEOUT_MS = 2000;
const MAX_FIELD_LENGTH = 200;

/**
 * Values come from the environment and git config, which anyone can set: keep them to one
 * printable line so a hostile value cannot forge extra lines in a lock message or a terminal.
 */
function printable(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const cleaned = value
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is removed here
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .trim()
    .slice(0, MAX_FIELD_LENGTH);
  return cleaned === '' ? undefined : cleaned;
}

function osUser(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    // A uid without a passwd entry (common in containers) makes userInfo() throw.
    return printable(env.USER) ?? printable(env.LOGNAME) ?? `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

async function gitConfig(key: string, env: NodeJS.ProcessEnv, cwd: string | undefined, timeoutMs: number): Promise<string | undefined> {
  try {
    // Loaded here: execa is heavy, and most commands never ask git.
    const { execa } = await import('execa');
    const result = await execa('git', ['config', '--get', key], { cwd, env, extendEnv: false, timeout: timeoutMs, reject: false, stdin: 'ignore' });
    return result.exitCode === 0 ? printable(String(result.stdout)) : undefined;
  } catch {
    // git missing, or the folder gone: the git user is optional.
    return undefined;
  }
}

function joinParts(parts: Array<string | undefined>): string {
  return parts.filter((part): part is string => part !== undefined).join(' ');
}

function labelled(label: string, value: string | undefined): string | undefined {
  const clean = printable(value);
  return clean === undefined ? undefined : `${label} ${clean}`;
}

/**
 * The CI system and job from the variables each system sets, e.g.
 * 'github-actions shop/web run 1234 attempt 2 job deploy by alice'; undefined outside CI.
 * URLs are left out on purpose: some CI systems embed credentials in them.
 */
export function ciJob(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GITHUB_ACTIONS === 'true') {
    return joinParts([
      'github-actions',
      printable(env.GITHUB_REPOSITORY),
      labelled('run', env.GITHUB_RUN_ID),
      env.GITHUB_RUN_ATTEMPT && env.GITHUB_RUN_ATTEMPT !== '1' ? labelled('attempt', env.GITHUB_RUN_ATTEMPT) : undefined,
      labelled('job', env.GITHUB_JOB),
      labelled('by', env.GITHUB_ACTOR),
    ]);
  }
  if (env.GITLAB_CI === 'true') {
    return joinParts([
      'gitlab-ci',
      printable(env.CI_PROJECT_PATH),
      labelled('pipeline', env.CI_PIPELINE_ID),
      labelled('job', env.CI_JOB_ID),
      printable(env.CI_JOB_NAME) && `(${printable(env.CI_JOB_NAME)})`,
      labelled('by', env.GITLAB_USER_LOGIN),
    ]);
  }
  if (env.CIRCLECI === 'true') {
    const project = env.CIRCLE_PROJECT_USERNAME && env.CIRCLE_PROJECT_REPONAME ? `${env.CIRCLE_PROJECT_USERNAME}/${env.CIRCLE_PROJECT_REPONAME}` : undefined;
    return joinParts(['circleci', printable(project), labelled('build', env.CIRCLE_BUILD_NUM), labelled('job', env.CIRCLE_JOB), labelled('by', env.CIRCLE_USERNAME)]);
  }
  if (env.BUILDKITE === 'true') {
    return joinParts([
      'buildkite',
      printable(env.BUILDKITE_PIPELINE_SLUG),
      labelled('build', env.BUILDKITE_BUILD_NUMBER),
      labelled('job', env.BUILDKITE_JOB_ID),
      labelled('by', env.BUILDKITE_BUILD_CREATOR),
    ]);
  }
  if (env.JENKINS_URL || env.JENKINS_HOME) {
    return joinParts(['jenkins', printable(env.JOB_NAME), labelled('build', env.BUILD_NUMBER), labelled('by', env.BUILD_USER_ID)]);
  }
  if (env.CI && env.CI !== 'false' && env.CI !== '0') return 'ci';
  return undefined;
}

export async function currentActor(options: ActorOptions = {}): Promise<Actor> {
  const env = options.env ?? process.env;
  const timeoutMs = options.gitTimeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
  const [email, name] = await Promise.all([gitConfig('user.email', env, options.cwd, timeoutMs), gitConfig('user.name', env, options.cwd, timeoutMs)]);
  const actor: Actor = { osUser: osUser(env), hostname: printable(hostname()) ?? 'unknown-host' };
  const gitUser = email ?? name;
  if (gitUser) actor.gitUser = gitUser;
  const ci = ciJob(env);
  if (ci) actor.ci = ci;
  return actor;
}
