/**
 * Runs the real CLI as a user would, in its own process, from the TypeScript sources (so a test
 * never runs a stale build). With --json the NDJSON events are parsed for assertions.
 */
import { execa, type ResultPromise } from 'execa';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ShipEvent } from '../../src/events.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface ShipRun {
  code: number;
  stdout: string;
  stderr: string;
  events: ShipEvent[];
}

export function startShip(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): ResultPromise {
  return execa(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { CI: 'true', ...options.env },
    reject: false,
    stdin: 'ignore',
    timeout: 180_000,
  });
}

export async function runShip(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<ShipRun> {
  return finished(startShip(args, options));
}

export async function finished(child: ResultPromise): Promise<ShipRun> {
  const result = await child;
  const stdout = String(result.stdout ?? '');
  const events = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ShipEvent);
  return { code: result.exitCode ?? -1, stdout, stderr: String(result.stderr ?? ''), events };
}
