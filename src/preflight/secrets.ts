/**
 * Resolves the config's `secrets` and `container.registry.password` once per run, on the machine
 * ship runs on, before anything changes: `env()` from the environment, `command()` by running it
 * (its output kept in memory only), `file()` by reading it. Every value is registered for
 * scrubbing before it can reach any output; a secret that cannot be resolved stops the pre-flight
 * naming it and its source, never a value.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { SecretSource } from '../config/secret-ref.js';
import { describeSource } from '../config/secret-ref.js';
import { MIN_SECRET_LENGTH, registerSecret, secretTooShort } from '../util/redact.js';
import { expandHome } from '../config/load.js';
import { isAbsolute, resolve } from 'node:path';

const COMMAND_TIMEOUT_MS = 30_000;

export interface SecretRequest {
  /** What the value is called in errors: `secrets.STRIPE_KEY`, `container.registry.password`. */
  label: string;
  source: SecretSource;
}

function runCommand(text: string, cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('sh', ['-c', text], { cwd, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 1024 * 1024, encoding: 'utf8' }, (error, stdout) => {
      // Its stderr is not quoted: a secret tool may print part of what it read there.
      if (error) return reject(new Error(error.killed ? `ran longer than ${COMMAND_TIMEOUT_MS / 1000}s` : `exited with code ${error.code ?? error.signal}`));
      resolvePromise(stdout);
    });
  });
}

async function read(source: SecretSource, configDir: string): Promise<string> {
  switch (source.kind) {
    case 'value':
      return source.value;
    case 'env': {
      const value = process.env[source.name];
      if (value === undefined || value === '') throw new Error('is not set');
      return value;
    }
    case 'command':
      return (await runCommand(source.run, configDir)).replace(/\r?\n$/, '');
    case 'file': {
      const expanded = expandHome(source.path);
      const path = isAbsolute(expanded) ? expanded : resolve(configDir, expanded);
      try {
        return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
      } catch (error) {
        throw new Error((error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message);
      }
    }
  }
}

/**
 * Every requested secret's value by label, all read in parallel; throws one error naming every
 * secret that could not be resolved (and why), never a value.
 */
export async function resolveSecrets(requests: SecretRequest[], configDir: string): Promise<Map<string, string>> {
  const outcomes = await Promise.all(
    requests.map(async ({ label, source }) => {
      try {
        const value = await read(source, configDir);
        if (value === '') return { label, problem: `${describeSource(source)}: is empty` };
        const short = secretTooShort(value);
        if (short) return { label, problem: `${describeSource(source)}: ${short}; at least ${MIN_SECRET_LENGTH} are needed to keep it out of every output` };
        // Registered before anything else can see it, even when another secret fails.
        registerSecret(value);
        if (/[\r\n\0]/.test(value)) return { label, problem: `${describeSource(source)}: holds a line break, which an env file cannot carry` };
        return { label, value };
      } catch (error) {
        return { label, problem: `${describeSource(source)}: ${(error as Error).message}` };
      }
    }),
  );
  const problems = outcomes.filter((o) => o.problem !== undefined).map((o) => `${o.label} (${o.problem})`);
  if (problems.length > 0) throw new Error(`cannot resolve ${problems.join('; ')}`);
  return new Map(outcomes.map((o) => [o.label, o.value!]));
}
