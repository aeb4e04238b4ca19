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

/** Wraps a command so it runs under sudo without a prompt (fails instead of hanging). */
export function withSudo(cmd: ShellCommand, user?: string): ShellCommand {
  return user ? sh`sudo -n -u ${user} -- sh -c ${cmd.text}` : sh`sudo -n -- sh -c ${cmd.text}`;
}
