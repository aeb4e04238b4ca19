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
  if (base.startsWith('-')) throw new GitError(`--base ${JSON.stringify(base)} is not a git ref`);
  const top = await git(['rev-parse', '--show-toplevel'], cwd, `${cwd} is not inside a git repository`);
  const diff = await git(['diff', '--name-only', '-z', '--diff-filter=AM', `${base}...HEAD`], cwd, `cannot diff against --base ${base}`);
  return diff
    .split('\0')
    .filter((name) => name !== '')
    .map((name) => resolve(top.trim(), name));
}

async function git(args: string[], cwd: string, what: string): Promise<string> {
  // Loaded on first use: only --base needs git, and a plain lint should not pay for execa's start-up.
  const { execa } = await import('execa');
  const result = await execa('git', args, { cwd, reject: false });
  if (result.failed) {
    const detail = String(result.stderr || result.shortMessage)
      .trim()
      .split('\n')[0];
    throw new GitError(`${what}: ${detail}`);
  }
  return String(result.stdout);
}
