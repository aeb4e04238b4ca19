import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOncePhaseProblem, type Playbook } from './define.js';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';
import { jiti } from '../util/jiti.js';

/**
 * Where the built-in playbooks are: the TypeScript sources beside src/ when ship runs from its
 * sources (tests, `npm run demo`), the compiled ones beside dist/src/ when it runs as installed
 * from the registry, which carries dist/ only.
 */
function builtInRoot(): { dir: string; extension: string } {
  const here = fileURLToPath(import.meta.url);
  // This file is <root>/src/playbook/load.ts, or <root>/dist/src/playbook/load.js.
  return { dir: resolve(dirname(here), '..', '..'), extension: here.endsWith('.ts') ? '.ts' : '.js' };
}

export const BUILT_IN_PLAYBOOKS: Record<string, string> = {
  deploy: 'playbooks/deploy-release',
  patch: 'playbooks/security-patch',
  rollback: 'playbooks/rollback-release',
  'deploy-container': 'playbooks/deploy-container',
  'rollback-container': 'playbooks/rollback-container',
};

export function builtInPlaybookPath(kind: string): string | undefined {
  const relative = BUILT_IN_PLAYBOOKS[kind];
  if (!relative) return undefined;
  const { dir, extension } = builtInRoot();
  return join(dir, relative + extension);
}

export class PlaybookError extends Error implements CodedError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'PlaybookError';
  }

  get shipCode() {
    return ERROR_CODES.playbookInvalid;
  }
}

/** Loads a playbook written in TypeScript at run time (no build step for the user). */
export async function loadPlaybook(file: string): Promise<Playbook> {
  const absolute = resolve(file);
  if (!existsSync(absolute)) throw new PlaybookError(file, 'playbook file not found');
  let exported: unknown;
  try {
    exported = await jiti()(import.meta.url).import(absolute, { default: true });
  } catch (error) {
    throw new PlaybookError(file, `could not be loaded: ${(error as Error).message}`);
  }
  const playbook = exported as Partial<Playbook> | undefined;
  if (!playbook || typeof playbook.name !== 'string' || !Array.isArray(playbook.activate)) {
    throw new PlaybookError(file, 'must `export default definePlaybook({ name, activate, ... })`');
  }
  for (const phase of ['beforeRollout', 'afterRollout'] as const) {
    const problem = playbook[phase] === undefined ? undefined : runOncePhaseProblem(playbook[phase]);
    if (problem !== undefined) throw new PlaybookError(file, `playbook ${playbook.name}: ${phase} ${problem}`);
  }
  return playbook as Playbook;
}
