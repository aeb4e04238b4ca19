/**
 * Writes the run's secrets (StepContext.secrets) to a file on the host, mode 0600, owned by the
 * user the step runs as: the text goes through the command's stdin, never on its command line,
 * and replaces the old file in one rename, so a reader never sees half a file.
 */
import { sh, type ShellCommand } from '../shell/sh.js';
import { run, type RunStep, type StepContext } from './define.js';

/** `NAME=value` lines, as `docker run --env-file` and dotenv read them. */
export function renderEnvFile(secrets: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(secrets ?? {})
    .map(([name, value]) => `${name}=${value}\n`)
    .join('');
}

/** A step writing the secrets to `path(ctx)` (shell text, so a path may start with "$HOME"). */
export function writeSecretsFile(path: (ctx: StepContext) => ShellCommand, options: { name?: string; when?: (ctx: StepContext) => boolean } = {}): RunStep {
  return run(
    (ctx) =>
      sh`set -e; umask 077; f=${path(ctx)}; mkdir -p "$(dirname "$f")"; t="$f.ship-$$"; cat > "$t"; chmod 600 "$t"; mv -f "$t" "$f"; echo "wrote $f (mode 600, ${Object.keys(ctx.secrets ?? {}).length} secret(s))"`,
    { name: options.name ?? 'write secrets', stdin: (ctx) => renderEnvFile(ctx.secrets), ...(options.when ? { when: options.when } : {}) },
  );
}
