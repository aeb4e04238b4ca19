/**
 * Shell text for remote hosts. Every value interpolated into `sh` is single-quoted, so a host
 * name, a version or a variable holding `;`, `$(...)`, quotes or newlines stays one literal
 * argument. Only another ShellCommand (already quoted) or an explicit `unsafeRaw` is pasted as is.
 */
const SHELL_COMMAND = Symbol.for('ship.ShellCommand');

export interface ShellCommand {
  readonly [SHELL_COMMAND]: true;
  readonly text: string;
}

export function isShellCommand(value: unknown): value is ShellCommand {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SHELL_COMMAND] === true;
}

function command(text: string): ShellCommand {
  return { [SHELL_COMMAND]: true, text };
}

/** POSIX single-quote quoting: the only character that needs care inside '...' is ' itself. */
export function quote(value: string): string {
  if (value === '') return "''";
  if (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

type Interpolation = string | number | boolean | ShellCommand | ReadonlyArray<string | number | ShellCommand>;

function render(value: Interpolation): string {
  if (isShellCommand(value)) return value.text;
  if (Array.isArray(value)) return value.map((v) => render(v as Interpolation)).join(' ');
  if (typeof value === 'number' || typeof value === 'boolean') return quote(String(value));
  if (typeof value === 'string') return quote(value);
  throw new TypeError(`sh: cannot interpolate a value of type ${typeof value}`);
}

/** Tagged template: sh`ln -sfn ${release} ${current}` quotes both values. */
export function sh(strings: TemplateStringsArray, ...values: Interpolation[]): ShellCommand {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    if (value === undefined || value === null) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the message shows the template with a placeholder
      throw new TypeError(`sh: interpolated value #${i + 1} is ${value} in \`${strings.join('${…}')}\``);
    }
    text += render(value) + (strings[i + 1] ?? '');
  });
  return command(text);
}

/**
 * Text the user wrote themselves (for example a `restart` command in the config), passed through
 * untouched. Never use it for values that came from a host, an inventory or a flag.
 */
export function unsafeRaw(text: string): ShellCommand {
  return command(text);
}

/**
 * The command with `set -o pipefail` semantics: a pipeline fails when any of its commands does,
 * not only the last (`ls | ... | tail -n +x | ...` with a bad x used to report the last loop's
 * success and quietly skip the work). Every shell ship starts on a host (the transports, sudo)
 * runs its command through this. POSIX sh before 2024 has no pipefail (Debian's dash), so where
 * `set -o pipefail` is refused the command runs under bash instead; a host with neither fails the
 * command rather than run it with weaker semantics. `cmd || true` still ignores a status on purpose.
 */
export function withPipefail(cmd: ShellCommand): ShellCommand {
  // The shell parses and runs one command at a time, so after `exec bash` the copy below is never read.
  return sh`if (set -o pipefail) 2>/dev/null; then set -o pipefail; elif command -v bash >/dev/null 2>&1; then exec bash -o pipefail -c ${cmd.text}; else echo ${PIPEFAIL_MISSING} >&2; exit 127; fi
${cmd}`;
}

const PIPEFAIL_MISSING = "ship: this host's sh has no 'set -o pipefail' and there is no bash; install bash, so a failing command inside a pipeline fails the step";

/** Wraps a command so it runs under sudo without a prompt (fails instead of hanging). */
export function withSudo(cmd: ShellCommand, user?: string): ShellCommand {
  const strict = withPipefail(cmd).text;
  return user ? sh`sudo -n -u ${user} -- sh -c ${strict}` : sh`sudo -n -- sh -c ${strict}`;
}
