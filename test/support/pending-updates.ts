/**
 * Runs one step of the built-in security-patch playbook's stage for real (its shell and awk,
 * through the local transport) with stand-in package-manager programs from `stubDir` on the
 * PATH; returns the facts it leaves.
 */
import { join } from 'node:path';
import { EventBus } from '../../src/events.js';
import type { StepContext, VarValue } from '../../src/playbook/define.js';
import { loadPlaybook } from '../../src/playbook/load.js';
import { runPhase } from '../../src/playbook/runner.js';
import { LocalTransport } from '../../src/transport/local.js';
import { REPO_ROOT } from './cli.js';

export interface PatchStepRun {
  stubDir: string;
  facts?: Record<string, string>;
  vars?: Record<string, VarValue>;
  /** 'only': the stubs are the whole PATH (put an `sh` there), so the host's own package managers are not seen. */
  path?: 'first' | 'only';
}

export async function runPatchStageStep(name: string, run: PatchStepRun): Promise<Record<string, string>> {
  const playbook = await loadPlaybook(join(REPO_ROOT, 'playbooks', 'security-patch.ts'));
  const step = playbook.stage.find((s) => s.name === name);
  if (!step) throw new Error(`the security-patch playbook has no "${name}" step in stage`);
  const ctx: StepContext = { app: 'shop', host: { name: 'web1', address: '127.0.0.1', lbName: 'web1' }, vars: run.vars ?? {}, facts: { ...run.facts } };
  const path = process.env.PATH;
  process.env.PATH = run.path === 'only' ? run.stubDir : `${run.stubDir}:${path}`;
  try {
    await runPhase([step], { phase: 'stage', transport: new LocalTransport({ host: 'web1' }), ctx, bus: new EventBus('t'), defaultTimeoutMs: 10_000, sudo: false });
  } finally {
    process.env.PATH = path;
  }
  return ctx.facts;
}

export async function listPendingUpdates(stubDir: string, packageManager: 'apt' | 'dnf' | 'yum', vars: Record<string, VarValue> = {}): Promise<string> {
  const facts = await runPatchStageStep('list pending updates', { stubDir, facts: { packageManager }, vars });
  return facts.pending ?? '';
}
