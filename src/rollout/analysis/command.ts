/**
 * Judges a batch by a command of the team's (a Prometheus query, a synthetic check): run once at
 * the end of the bake, exit 0 keeps the batch, any other exit fails it. One that cannot start or
 * outlives its timeout could not judge: the batch fails closed (SHIP-E057).
 */
import { AnalysisError, type AnalysisSource, type BakeScope } from './source.js';
import type { Finding } from './verdict.js';

export interface CommandResult {
  code: number;
  /** The end of its output, for the verdict line. */
  output: string;
}

/** Runs shell text with the given environment; rejects when it cannot start or times out. */
export type CommandRunner = (command: string, env: Record<string, string>, timeoutMs: number) => Promise<CommandResult>;

export interface CommandSettings {
  run: string;
  timeoutMs: number;
  /** Variables besides those of the batch (SHIP_APP, SHIP_VERSION). */
  env: Record<string, string>;
}

export function commandSource(runner: CommandRunner, scope: BakeScope, settings: CommandSettings): AnalysisSource {
  const bakeStarted = new Date();
  return {
    name: 'command',
    async judge(): Promise<Finding> {
      const env = {
        ...settings.env,
        SHIP_HOSTS: scope.hosts.join(' '),
        SHIP_BATCH: String(scope.index),
        SHIP_CANARY: scope.canary ? '1' : '0',
        SHIP_BAKE_STARTED: bakeStarted.toISOString(),
        SHIP_BAKE_SECONDS: String(Math.round((Date.now() - bakeStarted.getTime()) / 1000)),
      };
      let result: CommandResult;
      try {
        result = await runner(settings.run, env, settings.timeoutMs);
      } catch (error) {
        throw new AnalysisError(`command ${settings.run}: ${(error as Error).message}`, { cause: error });
      }
      const said = lastLine(result.output);
      if (result.code === 0) return { source: 'command', verdict: 'pass', detail: `command ${settings.run} exited 0${said ? `: ${said}` : ''}` };
      return { source: 'command', verdict: 'fail', detail: `command ${settings.run} exited ${result.code}${said ? `: ${said}` : ''}` };
    },
  };
}

function lastLine(output: string): string {
  const lines = output.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim().slice(0, 300);
}
