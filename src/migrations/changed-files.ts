import { resolve } from 'node:path';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';

export class GitError extends Error implements CodedError {
  override readonly name = 'GitError';

  get shipCode() {
    return ERROR_CODES.migrationInputUnreadable;
  }
}

/**
 * Files added or modified on this branch since it left `base` (`git diff <base>...HEAD`, the
 * merge-base diff a pull request shows), as absolute paths.
 */
export async function changedFilesSince(base: string, cwd: string): Promise<string[]> {
  // An unset CI variable (`--base "$BASE_REF"`) gives ''; git reads `...HEAD` as HEAD...HEAD, an
  // empty diff, and the lint would pass a branch it never looked at.
  if (base.trim() === '') throw new GitError('--base is empty: name the git ref the branch started from, e.g. --base origin/main (is the CI variable that should hold it set?)');
  if (base.startsWith('-')) throw new GitError(`--base ${JSON.stringify(base)} is not a git ref`);
  const top = (await git(['rev-parse', '--show-toplevel'], cwd, `${cwd} is not inside a git repository`)).trim();
  // Resolved to one commit first: a name git does not know then gets a message saying what to do,
  // and a range or path (`main..HEAD`, `HEAD:db`) is refused instead of being spliced into `<base>...HEAD`.
  const commit = await git(
    ['rev-parse', '--verify', '--quiet', '--end-of-options', `${base}^{commit}`],
    cwd,
    `--base ${JSON.stringify(base)} names no commit in the git repository at ${top}: check the spelling, and fetch it first (a shallow CI checkout lacks the base branch: fetch it, e.g. actions/checkout with fetch-depth: 0)`,
  );
  const diff = await git(['diff', '--name-only', '-z', '--diff-filter=AM', `${commit.trim()}...HEAD`, '--'], cwd, `cannot diff against --base ${base}`);
  return diff
    .split('\0')
    .filter((name) => name !== '')
    .map((name) => resolve(top, name));
}

async function git(args: string[], cwd: string, what: string): Promise<string> {
  // Loaded on first use: only --base needs git, and a plain lint should not pay for execa's start-up.
  const { execa } = await import('execa');
  const result = await execa('git', args, { cwd, reject: false });
  if (result.failed) {
    const detail = String(result.stderr || (result.exitCode === undefined ? result.shortMessage : ''))
      .trim()
      .split('\n')[0];
    throw new GitError(detail ? `${what}: ${detail}` : what);
  }
  return String(result.stdout);
}
