/**
 * Runs the built-in security-patch playbook's "list pending updates" step for real (its shell and
 * awk, through the local transport) with stand-in package-manager programs from `stubDir` first
 * on the PATH; returns the `pending` fact it sets.
 */
import { join } from 'node:path';
import { EventBus } from '../../src/events.js';
import type { StepContext, VarValue } from '../../src/playbook/define.js';
import { loadPlaybook } from '../../src/playbook/load.js';
import { runPhase } from '../../src/playbook/runner.js';
import { LocalTransport } from '../../src/transport/local.js';
import { REPO_ROOT } from './cli.js';

export async function listPendingUpdates(stubDir: string, packageManager: 'apt' | 'dnf' | 'yum', vars: Record<string, VarValue> = {}): Promise<string> {
  const playbook = await loadPlaybook(join(REPO_ROOT, 'playbooks', 'security-patch.ts'));
  const facts = { packageManager };
  const step = playbook.stage.find((s) => s.name === 'list pending updates' && s.when?.({ facts } as unknown as StepContext));
  if (!step) throw new Error(`the security-patch playbook has no "list pending updates" step for ${packageManager}`);
  const ctx: StepContext = { app: 'shop', host: { name: 'web1', address: '127.0.0.1', lbName: 'web1' }, vars, facts: { ...facts } };
  const path = process.env.PATH;
  process.env.PATH = `${stubDir}:${path}`;
  try {
    await runPhase([step], { phase: 'stage', transport: new LocalTransport({ host: 'web1' }), ctx, bus: new EventBus('t'), defaultTimeoutMs: 10_000, sudo: false });
  } finally {
    process.env.PATH = path;
  }
  return ctx.facts.pending ?? '';
}
