import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import type { Playbook } from './define.js';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';

/** The repository root, where the built-in playbooks live (from src/ or dist/src/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('ship: cannot find its own package root');
    dir = parent;
  }
  return dir;
}

export const BUILT_IN_PLAYBOOKS: Record<string, string> = {
  deploy: 'playbooks/deploy-release.ts',
  patch: 'playbooks/security-patch.ts',
  rollback: 'playbooks/rollback-release.ts',
};

export function builtInPlaybookPath(kind: string): string | undefined {
  const relative = BUILT_IN_PLAYBOOKS[kind];
  return relative ? join(packageRoot(), relative) : undefined;
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
    exported = await createJiti(import.meta.url).import(absolute, { default: true });
  } catch (error) {
    throw new PlaybookError(file, `could not be loaded: ${(error as Error).message}`);
  }
  const playbook = exported as Partial<Playbook> | undefined;
  if (!playbook || typeof playbook.name !== 'string' || !Array.isArray(playbook.activate)) {
    throw new PlaybookError(file, 'must `export default definePlaybook({ name, activate, ... })`');
  }
  return playbook as Playbook;
}
