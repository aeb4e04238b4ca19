/** What the benchmarks share: flags, medians, child commands and HAProxy's runtime API. */
import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The CLI as package.json's `bin` names it: what `npx ship` and an installed `ship` run. */
export const SHIP_BIN = join(ROOT, 'bin', 'ship.js');

/** How the benchmarks that time `ship` say what they ran, in their JSON. */
export const SHIP_AS_PUBLISHED = 'node bin/ship.js (package.json bin) after npm run build: tsc, then the esbuild bundle dist/cli/bundle/ship.js that bin/ship.js loads';

/**
 * Builds ship the way it is published (`npm run build`: tsc, then esbuild bundles the CLI into
 * dist/cli/bundle) and checks that bin/ship.js will load the bundle: it falls back to the
 * unbundled dist/src when tsc alone has rebuilt that since the bundle was made, and a benchmark
 * would then time module loading users never pay.
 */
export function buildAsPublished(): void {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build exited ${build.status}:\n${(build.stdout + build.stderr).slice(-2000)}`);
  const modified = (path: string) => statSync(join(ROOT, path), { throwIfNoEntry: false })?.mtimeMs;
  const bundled = modified('dist/cli/bundle/ship.js');
  const compiled = modified('dist/src/cli/main.js');
  if (bundled === undefined || compiled === undefined || compiled > bundled) {
    throw new Error('npm run build did not leave a bundle newer than dist/src/cli/main.js: bin/ship.js would run the unbundled CLI');
  }
}

/** `--name N`, a positive integer, or the fallback. */
export function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at === -1 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs a command from the repository root and collects its output. */
export function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** One non-interactive runtime API command over HAProxy's unix socket; HAProxy answers and closes. */
export function runtimeApi(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.end(`${command}\n`);
  });
}
